#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <memory_resource>
#include <tuple>
#include <utility>

#include "easgate/common/flat_fields.hpp"

namespace easgate::common {

// Beast's http::parser with the header in FlatFields (Beast's own is tied to basic_fields) and the
// body read into the caller's buffer (buffer_body). Beast's basic_parser does all the reading and
// judging of the bytes, framing included; this only keeps what it found. One per message (a parser
// that is done refuses more with stale_parser).
template <bool isRequest>
class HeaderParser final : public boost::beast::http::basic_parser<isRequest> {
public:
    using value_type = boost::beast::http::message<isRequest, boost::beast::http::buffer_body, FlatFields>;

    HeaderParser() : HeaderParser(std::pmr::get_default_resource()) {}
    explicit HeaderParser(std::pmr::memory_resource* memory)
        : message_(std::piecewise_construct, std::tuple<>(), std::make_tuple(memory)) {}
    HeaderParser(const HeaderParser&) = delete;
    HeaderParser& operator=(const HeaderParser&) = delete;

    value_type& get() { return message_; }
    const value_type& get() const { return message_; }

private:
    using error_code = boost::system::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_string, string_view target,
                         int version, error_code&) override {
        if constexpr (isRequest) {
            message_.target(target);
            if (method != boost::beast::http::verb::unknown) {
                message_.method(method);
            } else {
                message_.method_string(method_string);
            }
            message_.version(static_cast<unsigned>(version));
        }
    }

    void on_response_impl(int status, string_view reason, int version, error_code&) override {
        if constexpr (!isRequest) {
            message_.result(static_cast<unsigned>(status));
            message_.version(static_cast<unsigned>(version));
            message_.reason(reason);
        }
    }

    // Trailer fields of a chunked body come here too (the caller decides what they are worth).
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override {
        if (name_string.size() > FlatFields::max_name_size) {
            ec = boost::beast::http::error::header_limit;
            return;
        }
        message_.insert(name, name_string, value);
    }

    void on_header_impl(error_code& ec) override { ec = {}; }

    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override {
        body_.init(content_length, ec);
    }

    std::size_t on_body_impl(string_view body, error_code& ec) override {
        return body_.put(boost::asio::buffer(body.data(), body.size()), ec);
    }

    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
        return body_.put(boost::asio::buffer(body.data(), body.size()), ec);
    }

    void on_finish_impl(error_code& ec) override { body_.finish(ec); }

    value_type message_;
    boost::beast::http::buffer_body::reader body_{message_.base(), message_.body()};
};

}  // namespace easgate::common
