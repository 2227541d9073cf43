#pragma once

#include "hub/api/Router.h"

#include <cstddef>
#include <string>

namespace hub::api {

/// The web console's static files (core/console's build output), served by
/// hubd under /console without a token: they hold no data. The single-page
/// app they make calls /api/v1 and /admin with a bearer token like any other
/// client, so the console sees exactly what the token's person may see.
struct ConsoleOptions {
    /// The folder holding index.html and assets/ (console.dir).
    std::string dir;
    /// Files larger than this are left out (and logged); the whole set is held in memory.
    std::size_t maxFileBytes = 32 * 1024 * 1024;
    /// The whole set is capped at this; past it the rest is left out (and logged).
    std::size_t maxTotalBytes = 256 * 1024 * 1024;
};

/// GET /console (index.html) and GET /console/{a}[/{b}[/{c}]]: the files of
/// options.dir read once, now, into memory; nothing on disk is opened per
/// request. Only regular files whose every path segment is [A-Za-z0-9_~.-],
/// not starting with '.', up to three levels deep, are taken; symbolic links
/// are not followed. A request names a file of that set or gets 404, so no
/// path (".." decoded from %2e%2e, %2f inside a segment, NUL) can reach
/// anything else. Answers carry a content type by extension, a strong ETag
/// (304 on a matching If-None-Match), Cache-Control (assets/ are named by
/// their hash: immutable; the rest: no-cache), a Content-Security-Policy that
/// allows only the hub's own scripts, and nosniff; "x.gz" beside "x" is sent
/// instead with Content-Encoding: gzip to clients that accept it. When the
/// folder has no index.html (npm was absent at build time, or console.dir is
/// wrong), every /console path answers 404 saying so. Returns the number of
/// files loaded.
std::size_t addConsoleRoutes(Router& router, const ConsoleOptions& options);

}  // namespace hub::api
