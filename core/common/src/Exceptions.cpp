#include "hub/common/Exceptions.h"

#include <Poco/Exception.h>

#include <exception>

namespace hub {

std::string currentExceptionText() noexcept {
    try {
        auto current = std::current_exception();
        if (!current) return {};
        try {
            std::rethrow_exception(current);
        } catch (const Poco::Exception& e) {
            return e.displayText();
        } catch (const std::exception& e) {
            return e.what();
        } catch (...) {
            return "an exception that is not a std::exception";
        }
    } catch (...) {
        // Out of memory while copying the text: say something all the same.
        return {};
    }
}

}  // namespace hub
