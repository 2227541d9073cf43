#pragma once

#include <Poco/Channel.h>

#include <mutex>

namespace hub::log {

/// A Poco channel that writes each message's text and its newline with one
/// write(2), to stderr unless told another descriptor. hubd and its plugin
/// workers share stderr (the journal, a terminal, a pipe): Poco's
/// ConsoleChannel and StreamChannel write the text and the newline separately,
/// so a line of another process could land between the two and glue two lines
/// together. A line of up to PIPE_BUF bytes (4096) reaches a pipe whole; a
/// longer one is written in as few calls as the descriptor takes.
class LineChannel : public Poco::Channel {
public:
    explicit LineChannel(int fd = 2);
    void log(const Poco::Message& message) override;

private:
    int fd_;
    std::mutex mutex_;  // this process's lines one at a time
};

}  // namespace hub::log
