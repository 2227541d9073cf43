#include "hub/test/TempDir.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Path.h>
#include <Poco/UUIDGenerator.h>

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
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

} // namespace hub::test
