#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "easgate/common/body_bytes.hpp"
#include "easgate/common/body_rate.hpp"
#include "easgate/common/header_arena.hpp"
#include "easgate/common/result.hpp"
#include "easgate/common/tls_stream.hpp"
#include "easgate/config/config.hpp"
#include "easgate/upstream/header_rewrite.hpp"
#include "easgate/upstream/response_deadline.hpp"
#include "easgate/upstream/token_source.hpp"
#include "easgate/upstream/upstream.hpp"

namespace easgate::upstream {

namespace http = boost::beast::http;
using DeviceStream = common::TlsStream;

// Bodies are streamed this much at a time, either way.
constexpr std::size_t relay_chunk_bytes = common::buffer_memory::large_block;

// What the access log and easgate's own answers need of a request, kept after its header is rewritten.
struct RequestLine {
    std::string method;
    std::string target;
    std::string host;  // as the device wrote it: the name it uses for easgate
    unsigned version = 11;
    bool keep_alive = false;
    bool head = false;
};

// The device side of the request being forwarded, owned by the device's connection: the rest of
// the body is read from it while Exchange receives the request, and Exchange's answer written to it.
struct DeviceRequest {
    DeviceStream& stream;
    boost::beast::flat_buffer& buffer;  // read from the device, not yet parsed
    common::RequestParser& parser;      // the header (rewritten once), then the body
    common::BodyBytes read_ahead;       // the body's start (all of it when buffered)
    bool buffered;                      // the whole body is in read_ahead
    BodyFraming framing;                // as the device framed it, for what is streamed
    const RequestLine& line;
    ResponseDeadline deadline;
    common::BodyRateGuard& body_rate;
    std::shared_ptr<TokenSource> credentials;  // null: the device's own Authorization goes through
    std::string user;      // whose connections are used and pooled (RequestContext::connection_owner)
    std::string_view who;  // "<peer> <user>", the start of every log line about this request

    // The device connection can carry another request after easgate's own answer.
    bool device_kept() const { return line.keep_alive && buffered; }
};

// The device connection while Exchange holds a long poll: whether the device is still there, and
// whether easgate is shutting down. The watch cancels the exchange when the device leaves.
class DeviceWatch {
public:
    virtual ~DeviceWatch() = default;
    virtual void watch() = 0;
    virtual boost::asio::awaitable<void> stop_watching() = 0;  // returns once no read is pending
    virtual bool device_left() const = 0;
    virtual bool draining() const = 0;
};

// How a trip to Exchange ended, for the device connection.
struct ExchangeEnd {
    enum class How {
        relayed,      // Exchange's answer (status) went to the device
        broken,       // Exchange's answer (status) broke off on its way, or the device went away while it
                      // was relayed (device_error); failure->reason says which: the connection ends
        failed,       // not relayed: the device is answered with `failure`
        device_body,  // the device's body failed (device_error); Exchange processed nothing
        device_left,  // the device went away during a long poll: nothing to answer
        drained,      // a held long poll was cut short by a shutdown: answer it early
    };
    How how = How::broken;
    bool keep_device = false;  // the device connection can carry another request
    unsigned status = 0;
    // Behind a pointer: an end passes through several coroutines, and each keeps it in its frame.
    // Small, they stay under the 1,020 bytes Asio recycles; a failure is the rare case.
    std::shared_ptr<const common::Failure> failure;
    boost::system::error_code device_error;

    static ExchangeEnd relayed(unsigned status, bool keep_device) {
        return {How::relayed, keep_device, status};
    }
    static ExchangeEnd broken(unsigned status, std::string why, boost::system::error_code device_error = {}) {
        return {How::broken, false, status,
                std::make_shared<const common::Failure>(status, std::move(why), 0), device_error};
    }
    static ExchangeEnd failed(common::Failure failure, bool keep_device) {
        const unsigned status = failure.status;
        return {How::failed, keep_device, status,
                std::make_shared<const common::Failure>(std::move(failure))};
    }
    static ExchangeEnd device_body_failed(boost::system::error_code ec) {
        return {How::device_body, false, 0, nullptr, ec};
    }
    static ExchangeEnd device_went_away() { return {How::device_left}; }
    static ExchangeEnd cut_short() { return {How::drained}; }

private:
    ExchangeEnd(How how, bool keep_device = false, unsigned status = 0,
                std::shared_ptr<const common::Failure> failure = nullptr, boost::system::error_code ec = {})
        : how(how), keep_device(keep_device), status(status), failure(std::move(failure)), device_error(ec) {}
};

// Exchange's response header as it is read. Its fields have an arena of their own, given back with
// each interim 1xx answer: however many Exchange sends, they take no more memory than one.
using ResponseHead = common::ParserInArena<common::ResponseParser>;

// One request's trip to Exchange, for one device connection at a time: server choice, reuse of an
// idle connection of the same user, connect, credentials, sending the request (never replayed once
// Exchange may have seen any of it, except after a 401), on_challenge, renewing a refused ticket, the
// response header, 451 routing, the diagnoses of 400 and 401, and relaying the answer to the device.
class UpstreamExchange {
public:
    UpstreamExchange(boost::asio::any_io_executor executor, std::shared_ptr<Upstream> upstream,
                     const config::LimitsConfig& limits, std::string public_name);

    boost::asio::awaitable<ExchangeEnd> forward(DeviceRequest& request, DeviceWatch& watch);

    // What the access log shows of the last forward(), as far as it got.
    struct Trip {
        const config::UpstreamTarget* server = nullptr;   // the Exchange server it went to
        std::chrono::steady_clock::duration to_header{};  // from sending to the response header
        std::uint64_t body_bytes = 0;                     // of the response body, relayed to the device
    };
    const Trip& trip() const { return trip_; }
    // Aborts what waits on Exchange (a held long poll): forward() ends as drained or device_left.
    void cancel() { connection_.cancel(); }
    void close() { connection_.close(); }

private:
    struct Attempt;
    // Part of the request may have reached Exchange: replaying it could send a mail twice.
    static common::Failure broke_off_receiving(const std::string& url,
                                               const boost::system::error_code& error);
    // Not relayed: easgate answers the device itself, and its connection goes on when it can.
    static ExchangeEnd fail(const DeviceRequest& request, common::Failure failure);
    boost::asio::awaitable<std::optional<ExchangeEnd>> send(DeviceRequest& request, Attempt& attempt);
    boost::asio::awaitable<std::optional<ExchangeEnd>> authorize(DeviceRequest& request, Attempt& attempt);
    static bool kept_for_resend(const DeviceRequest& request, const Attempt& attempt);
    static void keep_nothing(DeviceRequest& request, Attempt& attempt);
    boost::asio::awaitable<std::optional<ExchangeEnd>> renew_credentials(DeviceRequest& request,
                                                                         bool may_resend);
    boost::asio::awaitable<std::optional<ExchangeEnd>> read_response_header(
        DeviceRequest& request, DeviceWatch& watch, std::optional<ResponseHead>& response);
    ExchangeEnd no_answer(const DeviceRequest& request, const std::string& url,
                          const boost::system::error_code& ec);
    boost::asio::awaitable<std::optional<ExchangeEnd>> read_early_answer(
        DeviceRequest& request, const boost::system::error_code& cut_off,
        std::optional<ResponseHead>& response);
    boost::asio::awaitable<boost::system::error_code> wait_for_answer(common::ResponseParser& parser);
    boost::asio::awaitable<boost::system::error_code> read_first_byte(common::ResponseParser& parser);
    boost::asio::awaitable<boost::system::error_code> read_header(common::ResponseParser& parser);
    boost::asio::awaitable<std::optional<UpstreamFailure>> connect(const std::string& user,
                                                                   std::string_view who);
    boost::asio::awaitable<void> discard_response_body(common::ResponseParser& parser);

    // response_relay.cpp: Exchange's answer on its way to the device.
    boost::asio::awaitable<ExchangeEnd> relay_response(DeviceRequest& request, common::ResponseParser& parser,
                                                       std::size_t authorization_bytes, bool draining);
    void judge_server(const common::ResponseHeader& answer, std::string_view user, bool token_sent);
    bool follow_mailbox_redirect(common::ResponseHeader& response, const DeviceRequest& request);
    boost::asio::awaitable<void> diagnose_backend_400(const DeviceRequest& request, std::string_view reason,
                                                      boost::optional<std::uint64_t> body_length,
                                                      std::size_t authorization_bytes);
    void log_backend_refusal(const DeviceRequest& request, const common::ResponseHeader& response,
                             bool token_sent) const;

    // Pooled connections are the user's: taken from and given back to the worker's idle pool.
    bool take_idle(const std::string& user);  // true: a connection from the pool, probed there
    void release(const std::string& user);

    boost::asio::any_io_executor executor_;
    std::shared_ptr<Upstream> upstream_;
    const config::LimitsConfig& limits_;
    std::string public_name_;  // listeners[].public_name: the host in rewritten 451 locations
    UpstreamConnection connection_;
    Trip trip_;
    // Exchange's response header while forward() runs. Here, not in forward's coroutine frame: with
    // it, the frame was over the 1,020 bytes Asio recycles, and was malloc'd and freed per request.
    std::optional<ResponseHead> response_;
};

}  // namespace easgate::upstream
