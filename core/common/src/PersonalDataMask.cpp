#include "hub/common/PersonalDataMask.h"

namespace hub::log {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAsciiAlnum(char c) { return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isLocalPartChar(char c) {
    return isAsciiAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool isDomainChar(char c) { return isAsciiAlnum(c) || c == '.' || c == '-'; }

}  // namespace

bool maskPersonalData(std::string_view text, std::string& out) {
    // Cheap refusal first: most lines have neither an 11-digit run nor an '@'.
    std::size_t run = 0, longest = 0;
    bool at = false;
    for (char c : text) {
        run = isDigit(c) ? run + 1 : 0;
        if (run > longest) longest = run;
        at |= c == '@';
    }
    if (longest < 11 && !at) return false;

    std::string result;
    result.reserve(text.size());
    bool masked = false;
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (isDigit(c)) {
            std::size_t end = i;
            while (end < text.size() && isDigit(text[end])) ++end;
            std::size_t length = end - i;
            // 17 digits and a check character X: the run stops before the X.
            bool idWithX = length == 17 && end < text.size() && (text[end] == 'X' || text[end] == 'x') &&
                           (end + 1 == text.size() || !isAsciiAlnum(text[end + 1]));
            if (length == 18 || idWithX) {
                std::size_t total = 18;
                result.append(text.substr(i, 6)).append(8, '*').append(text.substr(i + 14, total - 14));
                i += total;
                masked = true;
                continue;
            }
            // A mobile number, alone or after the country code 86 (+8613812345678).
            std::size_t mobile = length == 11 ? i : (length == 13 && text.substr(i, 2) == "86") ? i + 2 : end;
            if (mobile < end && text[mobile] == '1' && text[mobile + 1] >= '3' && text[mobile + 1] <= '9') {
                result.append(text.substr(i, mobile - i + 3)).append(4, '*').append(text.substr(mobile + 7, 4));
                i = end;
                masked = true;
                continue;
            }
            result.append(text.substr(i, length));
            i = end;
            continue;
        }
        if (c == '@' && !result.empty()) {
            // The local part is already in result: find where it starts.
            std::size_t start = result.size();
            while (start > 0 && isLocalPartChar(result[start - 1])) --start;
            std::size_t domainEnd = i + 1;
            while (domainEnd < text.size() && isDomainChar(text[domainEnd])) ++domainEnd;
            std::string_view domain = text.substr(i + 1, domainEnd - i - 1);
            if (start < result.size() && domain.find('.') != std::string_view::npos && isAsciiAlnum(domain.front())) {
                if (result.size() - start > 1) {
                    result.resize(start + 1);
                    result += "***";
                    masked = true;
                }
            }
        }
        result += c;
        ++i;
    }
    if (masked) out = std::move(result);
    return masked;
}

std::string maskedPersonalData(std::string_view text) {
    std::string out;
    if (!maskPersonalData(text, out)) out.assign(text);
    return out;
}

}  // namespace hub::log
