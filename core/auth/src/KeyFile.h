#pragma once
// Reads a key or secret file whole (TokenIssuer, TokenVerifier).

#include <Poco/FileStream.h>
#include <Poco/StreamCopier.h>

#include <string>

namespace hub::auth::detail {

/// The file's bytes; throws Poco::FileException naming the path (never the contents).
inline std::string readKeyFile(const std::string& path)
{
    Poco::FileInputStream in(path);
    std::string text;
    Poco::StreamCopier::copyToString(in, text);
    return text;
}

} // namespace hub::auth::detail
