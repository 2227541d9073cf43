#pragma once

// Private to hub::auth: how every verification step says no.

#include "hub/auth/TokenVerifier.h"

#include <string>
#include <utility>

namespace hub::auth::detail {

/// A refusal: `error`, and a reason that never quotes the token, the key or a claim's value.
inline VerifyResult fail(AuthError error, std::string detail)
{
    VerifyResult r;
    r.error = error;
    r.detail = std::move(detail);
    return r;
}

} // namespace hub::auth::detail
