#include "easgate/common/message_writer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <vector>

namespace easgate::common {
namespace {

namespace http = boost::beast::http;

std::string text(std::span<const boost::asio::const_buffer> buffers) {
    std::string out;
    for (const auto& buffer : buffers) out.append(static_cast<const char*>(buffer.data()), buffer.size());
    return out;
}

// What Beast's serializer sends for the same message and body pieces: the reference.
template <bool isRequest>
std::string beast_sends(http::message<isRequest, http::buffer_body, http::fields>& message,
                        const std::vector<std::string>& pieces) {
    std::string out;
    http::serializer<isRequest, http::buffer_body, http::fields> serializer{message};
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        auto& body = message.body();
        std::string piece = pieces[i];
        body.data = piece.empty() ? nullptr : piece.data();
        body.size = piece.size();
        body.more = i + 1 < pieces.size();
        for (;;) {
            boost::beast::error_code ec;
            bool wrote = false;
            serializer.next(ec, [&](boost::beast::error_code&, const auto& buffers) {
                const auto bytes = boost::beast::buffers_to_string(buffers);
                out += bytes;
                serializer.consume(bytes.size());
                wrote = true;
            });
            if (ec == http::error::need_buffer || serializer.is_done()) break;
            EXPECT_FALSE(ec) << ec.message();
            if (!wrote || ec) break;
        }
    }
    return out;
}

template <bool isRequest>
std::string writer_sends(const http::header<isRequest, Fields>& header,
                         const std::vector<std::string>& pieces) {
    MessageWriter writer{header};
    std::string out;
    for (std::size_t i = 0; i < pieces.size(); ++i)
        out += text(writer.next(pieces[i], i + 1 == pieces.size()));
    return out;
}

// The message is built by `build` twice, on easgate's FlatFields and on Beast's basic_fields: what
// the writer sends for the first must be what Beast's serializer sends for the second (so the
// fields' own edits, chunked(), content_length(), set(), are checked against Beast's too).
template <bool isRequest, class Build>
std::string sent_as_beast_sends(Build build, const std::vector<std::string>& pieces) {
    http::message<isRequest, http::buffer_body, Fields> ours;
    http::message<isRequest, http::buffer_body, http::fields> reference;
    build(ours);
    build(reference);
    const std::string sent = writer_sends(ours.base(), pieces);
    EXPECT_EQ(sent, beast_sends(reference, pieces));
    return sent;
}

template <class Message>
void sync_request(Message& request) {
    request.method(http::verb::post);
    request.target("/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d1");
    request.version(11);
    request.set(http::field::host, "mail.example.test");
    request.set("MS-ASProtocolVersion", "16.1");
    request.set(http::field::content_type, "application/vnd.ms-sync.wbxml");
    request.insert("X-Repeated", "one");
    request.insert("X-Repeated", "two");
    request.set(http::field::authorization, "Negotiate YIIabc==");
}

http::request<http::buffer_body, Fields> sync_request() {
    http::request<http::buffer_body, Fields> request;
    sync_request(request);
    return request;
}

TEST(MessageWriter, RequestWithALengthIsSentAsBeastSendsIt) {
    const std::string sent = sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.content_length(7);
        },
        {"abc", "", "defg"});
    EXPECT_TRUE(
        sent.starts_with("POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d1 HTTP/1.1\r\n"));
    EXPECT_TRUE(sent.ends_with("\r\n\r\nabcdefg"));
}

TEST(MessageWriter, ChunkedBodyIsFramedAsBeastFramesIt) {
    const std::string sent = sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.chunked(true);
        },
        {"abc", "", std::string(300, 'x'), "de"});
    EXPECT_TRUE(
        sent.ends_with("\r\n\r\n3\r\nabc\r\n12c\r\n" + std::string(300, 'x') + "\r\n2\r\nde\r\n0\r\n\r\n"));
}

TEST(MessageWriter, ChunkedBodyEndingWithoutDataGetsItsLastChunk) {
    const std::string sent = sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.chunked(true);
        },
        {"abc", ""});
    EXPECT_TRUE(sent.ends_with("3\r\nabc\r\n0\r\n\r\n"));
}

TEST(MessageWriter, AnotherCodingLastIsNotChunked) {
    const std::string sent = sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.set(http::field::transfer_encoding, "chunked, gzip");
        },
        {"abc"});
    EXPECT_TRUE(sent.ends_with("\r\n\r\nabc"));
}

// The fields' own framing edits, as Beast's basic_fields makes them: a coding list gains or loses
// its last "chunked", a length replaces every earlier one, keep-alive edits Connection's tokens.
TEST(MessageWriter, FramingAndKeepAliveEditsAreBeasts) {
    sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.set(http::field::transfer_encoding, "gzip");
            request.chunked(true);
            request.insert(http::field::content_length, "1");
            request.insert(http::field::content_length, "2");
            request.content_length(3);
        },
        {"abc"});
    sent_as_beast_sends<true>(
        [](auto& request) {
            sync_request(request);
            request.set(http::field::transfer_encoding, "gzip, chunked");
            request.chunked(false);
            request.set(http::field::connection, "Upgrade, close");
            request.keep_alive(true);
        },
        {"abc"});
    for (const unsigned version : {10u, 11u}) {
        for (const bool keep : {false, true}) {
            const std::string sent = sent_as_beast_sends<false>(
                [&](auto& answer) {
                    answer.result(http::status::ok);
                    answer.version(version);
                    answer.set(http::field::connection, "X-Custom, keep-alive");
                    answer.keep_alive(keep);
                    answer.content_length(boost::none);
                },
                {""});
            EXPECT_NE(sent.find("X-Custom"), std::string::npos) << "a keep-alive edit kept the other tokens";
        }
    }
}

TEST(MessageWriter, UnknownMethodAndHttp10) {
    const std::string sent = sent_as_beast_sends<true>(
        [](auto& request) {
            request.method_string("PROPFIND");
            request.target("/x");
            request.version(10);
            request.set(http::field::host, "h");
        },
        {""});
    EXPECT_EQ(sent, "PROPFIND /x HTTP/1.0\r\nHost: h\r\n\r\n");
}

TEST(MessageWriter, ResponseKeepsItsReasonOrGetsTheStandardOne) {
    const auto answer = [](unsigned status, std::string_view reason) {
        return [=](auto& message) {
            message.result(status);
            message.version(11);
            message.reason(reason);
            message.set(http::field::content_type, "application/vnd.ms-sync.wbxml");
            message.content_length(3);
        };
    };
    const std::vector<std::string> pieces{"abc"};
    EXPECT_TRUE(sent_as_beast_sends<false>(answer(200, ""), pieces).starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_TRUE(sent_as_beast_sends<false>(answer(451, "Mailbox moved"), pieces)
                    .starts_with("HTTP/1.1 451 Mailbox moved\r\n"));
    sent_as_beast_sends<false>(answer(449, ""), pieces);  // no standard reason
}

TEST(MessageWriter, HeaderGoesOnceAndAnEmptyPieceSendsNothing) {
    auto request = sync_request();
    request.content_length(3);
    MessageWriter writer{request.base()};
    EXPECT_EQ(text(writer.next({}, false)), writer.head());
    EXPECT_TRUE(writer.next({}, false).empty());
    EXPECT_EQ(text(writer.next(std::string_view("abc"), true)), "abc");
}

// What the writer sends parses back to the same message.
TEST(MessageWriter, WhatItSendsParsesBack) {
    auto request = sync_request();
    request.chunked(true);
    const std::string sent = writer_sends(request.base(), {"hello ", "world"});
    http::request_parser<http::string_body> parser;
    boost::beast::error_code ec;
    parser.eager(true);
    const auto used = parser.put(boost::asio::buffer(sent), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(used, sent.size());
    ASSERT_TRUE(parser.is_done());
    EXPECT_EQ(parser.get().body(), "hello world");
    EXPECT_EQ(parser.get()["MS-ASProtocolVersion"], "16.1");
    EXPECT_EQ(parser.get().target(), request.target());
}

}  // namespace
}  // namespace easgate::common
