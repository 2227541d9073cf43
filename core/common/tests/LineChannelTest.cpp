// hub::log::LineChannel: lines written by two processes at once into one pipe
// (as hubd and a plugin worker share stderr) arrive whole, none glued to another.
#include "hub/common/LineChannel.h"

#include <Poco/AutoPtr.h>
#include <Poco/Message.h>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr int kLinesEach = 3000;

void writeLines(int fd, char who) {
    Poco::AutoPtr<hub::log::LineChannel> channel(new hub::log::LineChannel(fd));
    // A few hundred bytes a line, Chinese included, so that a line split in two
    // writes would often have the other process's bytes between its halves.
    const std::string body = std::string(200, who) + " 来自工作进程 " + std::string(100, who);
    for (int i = 0; i < kLinesEach; ++i)
        channel->log(Poco::Message("test", std::string(1, who) + std::to_string(i) + " " + body, Poco::Message::PRIO_INFORMATION));
}

}  // namespace

TEST(LineChannel, LinesOfTwoProcessesInOnePipeArriveWhole) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::string received;
    std::thread reader([&] {
        char buffer[65536];
        for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) received.append(buffer, static_cast<std::size_t>(n));
    });
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        writeLines(fds[1], 'w');
        ::_exit(0);
    }
    writeLines(fds[1], 'h');
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ::close(fds[1]);
    reader.join();
    ::close(fds[0]);

    const std::string hubBody = std::string(200, 'h') + " 来自工作进程 " + std::string(100, 'h');
    const std::string workerBody = std::string(200, 'w') + " 来自工作进程 " + std::string(100, 'w');
    int hub = 0, worker = 0, broken = 0;
    std::istringstream lines(received);
    for (std::string line; std::getline(lines, line);) {
        const std::size_t space = line.find(' ');
        const std::string body = space == std::string::npos ? "" : line.substr(space + 1);
        if (line[0] == 'h' && body == hubBody) ++hub;
        else if (line[0] == 'w' && body == workerBody) ++worker;
        else if (++broken <= 3) ADD_FAILURE() << "a line not whole: " << line.substr(0, 120);
    }
    EXPECT_EQ(hub, kLinesEach);
    EXPECT_EQ(worker, kLinesEach);
    EXPECT_EQ(broken, 0);
}
