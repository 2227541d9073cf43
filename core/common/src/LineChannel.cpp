#include "hub/common/LineChannel.h"

#include <Poco/Message.h>

#include <cerrno>
#include <string>

#include <unistd.h>

namespace hub::log {

LineChannel::LineChannel(int fd) : fd_(fd) {}

void LineChannel::log(const Poco::Message& message) {
    const std::string& text = message.getText();
    std::string line;
    line.reserve(text.size() + 1);
    line += text;
    line += '\n';
    std::lock_guard lock(mutex_);
    const char* at = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, at, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere to say it: a log line must not take the process down
        }
        at += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace hub::log
