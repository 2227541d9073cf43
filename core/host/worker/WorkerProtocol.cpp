#include "WorkerProtocol.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/LogContext.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace hub::host::worker {

bool sendRequest(zmq::socket_t& socket, std::uint64_t id, std::string_view kind, std::string_view operation,
                 std::string_view input, std::string_view caller, const CallContext& context,
                 std::uint32_t remainingMs) {
    constexpr auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
    // The request this thread works for (the plugin pool carries it from the I/O thread).
    const auto& request = hub::log::currentRequest();
    const std::string_view requestId = request ? request->requestId : std::string_view{};
    return socket.send(zmq::const_buffer(&id, sizeof id), more) &&
           socket.send(zmq::const_buffer(kind.data(), kind.size()), more) &&
           socket.send(zmq::const_buffer(operation.data(), operation.size()), more) &&
           socket.send(zmq::const_buffer(input.data(), input.size()), more) &&
           socket.send(zmq::const_buffer(caller.data(), caller.size()), more) &&
           socket.send(zmq::const_buffer(&remainingMs, sizeof remainingMs), more) &&
           socket.send(zmq::const_buffer(context.idempotencyKey.data(), context.idempotencyKey.size()), more) &&
           socket.send(zmq::const_buffer(context.traceparent.data(), context.traceparent.size()), more) &&
           socket.send(zmq::const_buffer(requestId.data(), requestId.size()), zmq::send_flags::dontwait);
}

bool receiveNow(zmq::socket_t& socket, Message& parts) {
    parts.clear();
    for (;;) {
        zmq::message_t part;
        if (!socket.recv(part, zmq::recv_flags::dontwait)) return !parts.empty();
        bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) return true;
    }
}

bool readReply(const Message& parts, std::int32_t& status, std::string& body) {
    if (parts.size() != kReplyFrames) return false;
    status = readScalar<std::int32_t>(parts[1].data(), parts[1].size(), -1);
    body = parts[2].to_string();
    return true;
}

std::string encodeCaller(const Caller& caller) {
    std::string out = "{\"subject\":";
    json::appendString(out, caller.subject);
    out += ",\"roles\":[";
    for (std::size_t i = 0; i < caller.roles.size(); ++i) {
        if (i) out += ',';
        json::appendString(out, caller.roles[i]);
    }
    out += ']';
    if (!caller.actingFor.empty()) {
        out += ",\"acting_for\":";
        json::appendString(out, caller.actingFor);
    }
    out += '}';
    return out;
}

void receive(zmq::socket_t& socket, Message& parts) {
    parts.clear();
    for (;;) {
        zmq::message_t part;
        if (!socket.recv(part)) return;
        bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) return;
    }
}

void sendReply(zmq::socket_t& socket, zmq::message_t& id, std::int32_t status, std::string_view body) {
    socket.send(id, zmq::send_flags::sndmore);
    socket.send(zmq::const_buffer(&status, sizeof status), zmq::send_flags::sndmore);
    socket.send(zmq::const_buffer(body.data(), body.size()), zmq::send_flags::none);
}

void sendServiceRequest(zmq::socket_t& socket, const zmq::message_t& id, std::string_view name,
                        std::string_view payload) {
    socket.send(zmq::const_buffer(id.data(), id.size()), zmq::send_flags::sndmore);  // the call keeps its id
    socket.send(zmq::const_buffer(kService.data(), kService.size()), zmq::send_flags::sndmore);
    socket.send(zmq::const_buffer(name.data(), name.size()), zmq::send_flags::sndmore);
    socket.send(zmq::const_buffer(payload.data(), payload.size()), zmq::send_flags::none);
}

Caller decodeCaller(std::string_view json) {
    Caller caller;
    Poco::JSON::Parser parser;
    auto object = parser.parse(std::string(json)).extract<Poco::JSON::Object::Ptr>();
    caller.subject = object->optValue<std::string>("subject", "");
    caller.actingFor = object->optValue<std::string>("acting_for", "");
    if (auto roles = object->getArray("roles"))
        for (std::size_t i = 0; i < roles->size(); ++i)
            caller.roles.push_back(roles->getElement<std::string>(static_cast<unsigned>(i)));
    return caller;
}

}  // namespace hub::host::worker
