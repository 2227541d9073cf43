#include "hub/zmq/Curve.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Path.h>
#include <Poco/String.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hub::zmq {

namespace {

// A key file holds the bare Z85 key; the certificate files zmq_cert / CZMQ write
// carry it as `public-key = "..."` (or secret-key) inside a `curve` section.
std::string keyFromLine(const std::string& rawLine, bool certificate) {
    std::string line = Poco::trim(rawLine);
    if (line.empty() || line[0] == '#') return {};
    if (!certificate) return line;
    auto eq = line.find('=');
    if (eq == std::string::npos ||
        (line.rfind("public-key", 0) != 0 && line.rfind("secret-key", 0) != 0))
        return {};
    line = Poco::trim(line.substr(eq + 1));
    if (line.size() >= 2 && line.front() == '"' && line.back() == '"')
        line = line.substr(1, line.size() - 2);
    return line;
}

std::vector<std::string> readLines(const std::string& path) {
    if (!Poco::File(path).exists()) throw Poco::FileNotFoundException("CURVE key file missing", path);
    std::ifstream in(path);
    if (!in) throw Poco::FileAccessDeniedException("CURVE key file unreadable", path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

bool isCertificate(const std::vector<std::string>& lines) {
    for (const auto& l : lines) {
        std::string t = Poco::trim(l);
        if (t.rfind("public-key", 0) == 0 || t.rfind("secret-key", 0) == 0) return true;
    }
    return false;
}

}  // namespace

CurveKeyPair generateKeyPair() {
    std::array<char, 41> pub{};
    std::array<char, 41> sec{};
    if (zmq_curve_keypair(pub.data(), sec.data()) != 0)
        throw ::zmq::error_t();
    return {pub.data(), sec.data()};
}

std::string publicKeyOf(const std::string& secretKey) {
    if (!isValidKey(secretKey)) throw Poco::DataFormatException("not a Z85 CURVE key");
    std::array<char, 41> pub{};
    if (zmq_curve_public(pub.data(), secretKey.c_str()) != 0) throw ::zmq::error_t();
    return pub.data();
}

bool isValidKey(const std::string& key) {
    if (key.size() != 40) return false;
    std::array<std::uint8_t, 32> raw{};
    return zmq_z85_decode(raw.data(), key.c_str()) != nullptr;
}

std::string readKeyFile(const std::string& path) {
    auto lines = readLines(path);
    bool certificate = isCertificate(lines);
    for (const auto& line : lines) {
        std::string key = keyFromLine(line, certificate);
        if (key.empty()) continue;
        if (!isValidKey(key))
            throw Poco::DataFormatException("CURVE key file " + path +
                                            ": not a 40-character Z85 key");
        return key;
    }
    throw Poco::DataFormatException("CURVE key file " + path + ": no key found");
}

std::vector<std::string> readKeyList(const std::string& path) {
    auto lines = readLines(path);
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string key = keyFromLine(lines[i], false);
        if (key.empty()) continue;
        if (!isValidKey(key))
            throw Poco::DataFormatException(path + ":" + std::to_string(i + 1) +
                                            ": not a 40-character Z85 key");
        keys.push_back(key);
    }
    return keys;
}

void writeKeyFile(const std::string& path, const std::string& key, unsigned mode) {
    // Created with its final mode (not chmod'ed afterwards: the umask-made file
    // would be readable for a moment), under a temporary name, then renamed.
    std::string temporary = path + ".tmp." + std::to_string(::getpid());
    ::unlink(temporary.c_str());
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0)
        throw Poco::CreateFileException("cannot write CURVE key file " + path + ": " + std::strerror(errno));
    // The umask may have taken bits the caller asked for (0644 for a public key).
    ::fchmod(fd, static_cast<mode_t>(mode));
    std::string text = key + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    int error = errno;
    ::close(fd);
    if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
        if (ok) error = errno;
        ::unlink(temporary.c_str());
        throw Poco::CreateFileException("cannot write CURVE key file " + path + ": " + std::strerror(error));
    }
}

bool isReadableByOthers(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0;
}

CurveKeyPair loadKeyPair(const std::string& publicKeyFile, const std::string& secretKeyFile) {
    CurveKeyPair keys{readKeyFile(publicKeyFile), readKeyFile(secretKeyFile)};
    if (publicKeyOf(keys.secretKey) != keys.publicKey)
        throw Poco::DataFormatException("CURVE keys do not match: " + publicKeyFile +
                                        " is not the public key of " + secretKeyFile);
    return keys;
}

CurveKeyPair loadOrCreateKeyPair(const std::string& publicKeyFile, const std::string& secretKeyFile,
                                 bool* created) {
    if (created) *created = false;
    bool havePublic = Poco::File(publicKeyFile).exists();
    bool haveSecret = Poco::File(secretKeyFile).exists();
    if (haveSecret && havePublic) return loadKeyPair(publicKeyFile, secretKeyFile);
    if (havePublic)
        throw Poco::FileNotFoundException("CURVE secret key file " + secretKeyFile + " is missing, but its public key " +
                                          publicKeyFile +
                                          " exists: restore the secret key, or remove both files to make a new "
                                          "pair (and give every peer the new public key)");
    for (const auto* file : {&secretKeyFile, &publicKeyFile}) {
        Poco::Path parent = Poco::Path(*file).makeParent();
        if (parent.toString().empty()) continue;
        Poco::File folder(parent);
        if (!folder.exists()) {
            folder.createDirectories();
            ::chmod(parent.toString().c_str(), 0700);
        }
    }
    CurveKeyPair keys;
    if (haveSecret) {
        keys.secretKey = readKeyFile(secretKeyFile);
        keys.publicKey = publicKeyOf(keys.secretKey);
    } else {
        keys = generateKeyPair();
        writeKeyFile(secretKeyFile, keys.secretKey, 0600);
        if (created) *created = true;
    }
    writeKeyFile(publicKeyFile, keys.publicKey, 0644);
    return keys;
}

void makeCurveServer(::zmq::socket_t& socket, const CurveKeyPair& keys,
                     const std::string& zapDomain) {
    socket.set(::zmq::sockopt::curve_server, true);
    socket.set(::zmq::sockopt::curve_secretkey, keys.secretKey);
    socket.set(::zmq::sockopt::zap_domain, zapDomain);
}

void makeCurveClient(::zmq::socket_t& socket, const CurveKeyPair& keys,
                     const std::string& serverPublicKey) {
    socket.set(::zmq::sockopt::curve_serverkey, serverPublicKey);
    socket.set(::zmq::sockopt::curve_publickey, keys.publicKey);
    socket.set(::zmq::sockopt::curve_secretkey, keys.secretKey);
}

}  // namespace hub::zmq
