#pragma once

#include <zmq.hpp>

#include <string>

namespace hub::zmq {

/// A CurveZMQ key pair in Z85 text (40 characters each).
struct CurveKeyPair {
    std::string publicKey;
    std::string secretKey;
};

/// A fresh random key pair (zmq_curve_keypair). Throws if libzmq lacks CURVE.
CurveKeyPair generateKeyPair();

/// The public key belonging to a Z85 secret key.
std::string publicKeyOf(const std::string& secretKey);

/// True if `key` is 40 characters of the Z85 alphabet that decode to 32 bytes.
bool isValidKey(const std::string& key);

/// Reads one Z85 key from a file: the first line that is not empty and does not
/// start with '#', surrounding whitespace trimmed. The ZeroMQ certificate format
/// (`public-key = "..."` / `secret-key = "..."`) is accepted too. Throws
/// Poco::FileException / Poco::DataFormatException naming the file on failure.
std::string readKeyFile(const std::string& path);

/// Reads every key of a file of authorized public keys, one per line, '#' comments
/// allowed. Throws naming the file and line of a key that is not valid Z85.
std::vector<std::string> readKeyList(const std::string& path);

/// Writes `key` to `path` with permissions `mode` (0600 by default: secret keys
/// must never be readable by others, not even for a moment). The file is written
/// beside `path` and renamed into place, so a reader sees the old key or the new
/// one, never half a file. Throws Poco::CreateFileException naming the file.
void writeKeyFile(const std::string& path, const std::string& key, unsigned mode = 0600);

/// Reads a key pair from its two files. The public key is checked against the
/// secret key, so swapped or mismatched files are refused with a clear message.
CurveKeyPair loadKeyPair(const std::string& publicKeyFile, const std::string& secretKeyFile);

/// Reads a key pair, or makes one when neither file exists: the secret key file
/// (mode 0600) first, then the public one (0644), creating missing folders (0700).
/// A secret key without its public file gets the public file written from it; a
/// public key file without its secret key is refused (a new pair would silently
/// change the identity every peer knows). `created` is set when a new pair was made.
/// Throws Poco exceptions naming the file.
CurveKeyPair loadOrCreateKeyPair(const std::string& publicKeyFile, const std::string& secretKeyFile,
                                 bool* created = nullptr);

/// True if `path` can be read or written by others than its owner (mode & 077):
/// a secret key file should not be.
bool isReadableByOthers(const std::string& path);

/// Makes `socket` a CURVE server with `keys` (call before bind). `zapDomain` is
/// passed to the ZAP handler, which decides which clients may connect.
void makeCurveServer(::zmq::socket_t& socket, const CurveKeyPair& keys,
                     const std::string& zapDomain = "hub");

/// Makes `socket` a CURVE client with its own `keys`, trusting only a server
/// holding `serverPublicKey` (call before connect).
void makeCurveClient(::zmq::socket_t& socket, const CurveKeyPair& keys,
                     const std::string& serverPublicKey);

}  // namespace hub::zmq
