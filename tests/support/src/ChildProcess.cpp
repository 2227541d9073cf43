#include "hub/test/ChildProcess.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/NumberParser.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <Poco/String.h>

#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

namespace hub::test {

namespace {

std::optional<int> readPort(const std::string& path)
{
    try
    {
        if (!Poco::File(path).exists())
            return std::nullopt;
        Poco::FileInputStream in(path);
        std::string text;
        // Only a complete line counts: a half-written "4352" of "43521" would
        // send the test to somebody else's port.
        if (!std::getline(in, text) || in.eof())
            return std::nullopt;
        int port = 0;
        if (Poco::NumberParser::tryParse(Poco::trim(text), port) && port > 0 && port < 65536)
            return port;
    }
    catch (const Poco::Exception&)
    {
        // Not there yet, or half-written: try again.
    }
    return std::nullopt;
}

} // namespace

struct ChildProcess::Impl
{
    std::string executable;
    Options options;
    Poco::Pipe pipe;
    std::optional<Poco::ProcessHandle> handle;
    std::optional<int> exitStatus;
    int port = 0;
    std::thread reader;

    mutable std::mutex mutex;
    std::condition_variable outputChanged;
    std::string output;
    bool outputClosed = false;

    void readOutput()
    {
        // Pipe::readBytes returns whatever is there (like read(2)); an istream would wait
        // for a full buffer and sit on the child's "ready" line.
        char buffer[4096];
        for (;;)
        {
            int n = 0;
            try
            {
                n = pipe.readBytes(buffer, static_cast<int>(sizeof buffer));
            }
            catch (const Poco::Exception&)
            {
                n = 0;
            }
            if (n <= 0)
                break;
            std::lock_guard<std::mutex> lock(mutex);
            output.append(buffer, static_cast<std::size_t>(n));
            outputChanged.notify_all();
        }
        std::lock_guard<std::mutex> lock(mutex);
        outputClosed = true;
        outputChanged.notify_all();
    }

    std::string describe(const std::string& what) const
    {
        std::lock_guard<std::mutex> lock(mutex);
        return executable + ": " + what + "\n--- child output ---\n" + output;
    }
};

ChildProcess::ChildProcess(const std::string& executable, Options options) : _impl(std::make_unique<Impl>())
{
    _impl->executable = executable;
    _impl->options = std::move(options);
    const Options& o = _impl->options;
    Poco::Process::Env env(o.env.begin(), o.env.end());
    _impl->handle.emplace(
        Poco::Process::launch(executable, o.args, o.workingDirectory, nullptr, &_impl->pipe, &_impl->pipe, env));
    _impl->reader = std::thread([impl = _impl.get()] { impl->readOutput(); });

    const auto deadline = std::chrono::steady_clock::now() + o.startTimeout;
    auto ready = [&] {
        if (!o.portFile.empty() && _impl->port == 0)
        {
            if (const auto port = readPort(o.portFile))
                _impl->port = *port;
            else
                return false;
        }
        if (!o.readyLine.empty())
        {
            std::lock_guard<std::mutex> lock(_impl->mutex);
            if (_impl->output.find(o.readyLine) == std::string::npos)
                return false;
        }
        return true;
    };
    while (!ready())
    {
        if (!running())
        {
            _impl->reader.join();
            throw Poco::RuntimeException(
                _impl->describe("exited with status " + std::to_string(*_impl->exitStatus) + " before it was ready"));
        }
        if (std::chrono::steady_clock::now() > deadline)
        {
            stop();
            _impl->reader.join(); // the destructor will not run: no joinable thread may be left
            throw Poco::TimeoutException(_impl->describe("not ready within the start timeout"));
        }
        std::unique_lock<std::mutex> lock(_impl->mutex);
        _impl->outputChanged.wait_for(lock, std::chrono::milliseconds(20));
    }
}

ChildProcess::~ChildProcess()
{
    try
    {
        stop();
    }
    catch (...)
    {
    }
    if (_impl->reader.joinable())
        _impl->reader.join();
}

int ChildProcess::pid() const
{
    return _impl->handle->id();
}

int ChildProcess::port() const
{
    return _impl->port;
}

std::string ChildProcess::url(const std::string& path) const
{
    return "http://127.0.0.1:" + std::to_string(_impl->port) + path;
}

bool ChildProcess::running()
{
    if (_impl->exitStatus)
        return false;
    const int status = _impl->handle->tryWait();
    if (status == -1)
        return true;
    _impl->exitStatus = status;
    return false;
}

void ChildProcess::signal(int sig)
{
    if (running())
        ::kill(_impl->handle->id(), sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running())
    {
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The child is gone, but what it wrote last may still sit in the pipe: let the
    // reader take it up to the end (bounded: a grandchild may hold the pipe open).
    std::unique_lock<std::mutex> lock(_impl->mutex);
    _impl->outputChanged.wait_for(lock, std::chrono::seconds(2), [this] { return _impl->outputClosed; });
    return _impl->exitStatus;
}

int ChildProcess::stop()
{
    if (!running())
        return *_impl->exitStatus;
    ::kill(_impl->handle->id(), SIGTERM);
    if (const auto status = wait(_impl->options.stopTimeout))
        return *status;
    ::kill(_impl->handle->id(), SIGKILL);
    return wait(std::chrono::milliseconds(60000)).value_or(-1);
}

std::string ChildProcess::output() const
{
    std::lock_guard<std::mutex> lock(_impl->mutex);
    return _impl->output;
}

} // namespace hub::test
