#include "hub/test/TempDir.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Path.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <fstream>
#include <random>

namespace hub::test {

TempDir::TempDir(const std::string& prefix)
{
    Poco::Path base(Poco::Path::temp());
    base.pushDirectory(prefix + "-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
    _path = base.toString();
    if (!_path.empty() && _path.back() == '/')
        _path.pop_back();
    Poco::File(_path).createDirectories();
}

TempDir::~TempDir()
{
    try
    {
        Poco::File(_path).remove(true);
    }
    catch (...)
    {
        // A destructor must not throw; a left-over temp dir is harmless.
    }
}

std::string TempDir::file(const std::string& name) const
{
    return _path + "/" + name;
}

std::string TempDir::write(const std::string& name, const std::string& content) const
{
    const std::string path = file(name);
    Poco::FileOutputStream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    return path;
}

int freePort()
{
    // Below the kernel's ephemeral range: a port from bind(0) is handed out
    // again to the next bind(0) or connect() of any process, and with tests
    // running side by side one of them took it before the program this port
    // was for could bind it ("Address already in use"). Ports below the range
    // are never handed out so; a random one that binds now is taken only if
    // another test picks the same one, out of thousands.
    int low = 32768;
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    range >> low;
    const int first = std::max(1024, low - 12000), last = low - 1;
    if (last - first >= 1000)
    {
        static std::mt19937 random(std::random_device{}());
        std::uniform_int_distribution<int> pick(first, last);
        for (int attempt = 0; attempt < 50; ++attempt)
        {
            const int port = pick(random);
            try
            {
                Poco::Net::ServerSocket socket;
                socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)), false);
                socket.listen();
                return port;
            }
            catch (const Poco::Exception&)
            {
                // In use: another.
            }
        }
    }
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

} // namespace hub::test
