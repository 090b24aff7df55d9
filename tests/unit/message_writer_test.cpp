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
std::string beast_sends(http::message<isRequest, http::buffer_body, Fields>& message,
                        const std::vector<std::string>& pieces) {
    std::string out;
    http::serializer<isRequest, http::buffer_body, Fields> serializer{message};
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

http::request<http::buffer_body, common::Fields> sync_request() {
    http::request<http::buffer_body, common::Fields> request{
        http::verb::post, "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d1", 11};
    request.set(http::field::host, "mail.example.test");
    request.set("MS-ASProtocolVersion", "16.1");
    request.set(http::field::content_type, "application/vnd.ms-sync.wbxml");
    request.insert("X-Repeated", "one");
    request.insert("X-Repeated", "two");
    request.set(http::field::authorization, "Negotiate YIIabc==");
    return request;
}

TEST(MessageWriter, RequestWithALengthIsSentAsBeastSendsIt) {
    auto request = sync_request();
    request.content_length(7);
    const std::vector<std::string> pieces{"abc", "", "defg"};
    const std::string sent = writer_sends(request.base(), pieces);
    EXPECT_EQ(sent, beast_sends(request, pieces));
    EXPECT_TRUE(
        sent.starts_with("POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d1 HTTP/1.1\r\n"));
    EXPECT_TRUE(sent.ends_with("\r\n\r\nabcdefg"));
}

TEST(MessageWriter, ChunkedBodyIsFramedAsBeastFramesIt) {
    auto request = sync_request();
    request.chunked(true);
    const std::vector<std::string> pieces{"abc", "", std::string(300, 'x'), "de"};
    const std::string sent = writer_sends(request.base(), pieces);
    EXPECT_EQ(sent, beast_sends(request, pieces));
    EXPECT_TRUE(
        sent.ends_with("\r\n\r\n3\r\nabc\r\n12c\r\n" + std::string(300, 'x') + "\r\n2\r\nde\r\n0\r\n\r\n"));
}

TEST(MessageWriter, ChunkedBodyEndingWithoutDataGetsItsLastChunk) {
    auto request = sync_request();
    request.chunked(true);
    const std::vector<std::string> pieces{"abc", ""};
    EXPECT_EQ(writer_sends(request.base(), pieces), beast_sends(request, pieces));
    EXPECT_TRUE(writer_sends(request.base(), pieces).ends_with("3\r\nabc\r\n0\r\n\r\n"));
}

TEST(MessageWriter, AnotherCodingLastIsNotChunked) {
    auto request = sync_request();
    request.set(http::field::transfer_encoding, "chunked, gzip");
    const std::vector<std::string> pieces{"abc"};
    EXPECT_EQ(writer_sends(request.base(), pieces), beast_sends(request, pieces));
    EXPECT_TRUE(writer_sends(request.base(), pieces).ends_with("\r\n\r\nabc"));
}

TEST(MessageWriter, UnknownMethodAndHttp10) {
    http::request<http::buffer_body, common::Fields> request;
    request.method_string("PROPFIND");
    request.target("/x");
    request.version(10);
    request.set(http::field::host, "h");
    const std::vector<std::string> pieces{""};
    EXPECT_EQ(writer_sends(request.base(), pieces), "PROPFIND /x HTTP/1.0\r\nHost: h\r\n\r\n");
    EXPECT_EQ(writer_sends(request.base(), pieces), beast_sends(request, pieces));
}

TEST(MessageWriter, ResponseKeepsItsReasonOrGetsTheStandardOne) {
    http::response<http::buffer_body, common::Fields> answer{http::status::ok, 11};
    answer.set(http::field::content_type, "application/vnd.ms-sync.wbxml");
    answer.content_length(3);
    const std::vector<std::string> pieces{"abc"};
    EXPECT_EQ(writer_sends(answer.base(), pieces), beast_sends(answer, pieces));
    EXPECT_TRUE(writer_sends(answer.base(), pieces).starts_with("HTTP/1.1 200 OK\r\n"));

    answer.result(451);
    answer.reason("Mailbox moved");
    EXPECT_EQ(writer_sends(answer.base(), pieces), beast_sends(answer, pieces));
    EXPECT_TRUE(writer_sends(answer.base(), pieces).starts_with("HTTP/1.1 451 Mailbox moved\r\n"));

    answer.result(449);  // no standard reason
    answer.reason("");
    EXPECT_EQ(writer_sends(answer.base(), pieces), beast_sends(answer, pieces));
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
