// relay_body's parse of bytes already read: what http::async_read_some would make of them, without
// its operation, and a read (false) whenever Beast would need one.
#include "easgate/common/body_relay.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <string>
#include <string_view>

namespace easgate::common {
namespace {

class ParseBufferedTest : public ::testing::Test {
protected:
    // A response parser past the header of `head`, its body going into scratch_.
    void read_header(std::string_view head) {
        put(head);
        boost::system::error_code error;
        ASSERT_TRUE(parse_buffered(buffer_, parser_, error, used_)) << "a whole header needs no read";
        ASSERT_TRUE(parser_.is_header_done()) << error.message();
        give_scratch();
    }
    void put(std::string_view bytes) {
        buffer_.commit(boost::asio::buffer_copy(buffer_.prepare(bytes.size()), boost::asio::buffer(bytes)));
    }
    void give_scratch() {
        parser_.get().body().data = scratch_;
        parser_.get().body().size = sizeof scratch_;
    }
    std::string_view body_so_far() const { return {scratch_, sizeof scratch_ - parser_.get().body().size}; }

    ParserInArena<ResponseParser> in_arena_;
    ResponseParser& parser_ = in_arena_.parser;
    boost::beast::flat_buffer buffer_;
    char scratch_[64];
    std::size_t used_ = 0;
};

TEST_F(ParseBufferedTest, TakesABodyThatCameWithItsHeader) {
    read_header("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    boost::system::error_code error;
    EXPECT_TRUE(parse_buffered(buffer_, parser_, error, used_));
    EXPECT_FALSE(error) << error.message();
    EXPECT_EQ(used_, 10u);
    EXPECT_EQ(body_so_far(), "0123456789");
    EXPECT_TRUE(parser_.is_done());
    EXPECT_EQ(buffer_.size(), 0u);
}

TEST_F(ParseBufferedTest, LeavesAnEmptyBufferToARead) {
    read_header("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    boost::system::error_code error;
    EXPECT_FALSE(parse_buffered(buffer_, parser_, error, used_));
}

TEST_F(ParseBufferedTest, LeavesAPartOfAChunkToAReadAndGoesOnAfterIt) {
    read_header("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    std::string to_come = "cde\r\n0\r\n\r\n";  // what the read asked for brings
    boost::system::error_code error;
    for (int step = 0; step < 10 && !parser_.is_done(); ++step) {
        if (parse_buffered(buffer_, parser_, error, used_)) {
            ASSERT_TRUE(!error || error == boost::beast::http::error::need_buffer) << error.message();
            continue;
        }
        ASSERT_FALSE(to_come.empty()) << "a read asked for after the whole body came";
        put(to_come);
        to_come.clear();
    }
    EXPECT_TRUE(parser_.is_done());
    EXPECT_TRUE(to_come.empty()) << "the body ended before its last chunk came";
    EXPECT_EQ(body_so_far(), "abcde");
}

TEST_F(ParseBufferedTest, ReportsABrokenBodyWithoutARead) {
    read_header("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    boost::system::error_code error;
    EXPECT_TRUE(parse_buffered(buffer_, parser_, error, used_));
    EXPECT_TRUE(error) << "a chunk size of zz was taken";
    EXPECT_NE(error, boost::beast::http::error::need_more);
}

// An upstream read ending while a header is read: as http::async_read_header says it.
TEST(HeaderReadError, TellsAnEndBeforeTheHeaderFromOneWithinIt) {
    ParserInArena<ResponseParser> nothing, part;
    EXPECT_EQ(header_read_error(boost::asio::error::eof, nothing.parser),
              boost::beast::http::error::end_of_stream);
    boost::system::error_code error;
    part.parser.put(boost::asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-")), error);
    EXPECT_EQ(error, boost::beast::http::error::need_more);
    EXPECT_EQ(header_read_error(boost::asio::error::eof, part.parser),
              boost::beast::http::error::partial_message);
    EXPECT_EQ(header_read_error(boost::asio::error::connection_reset, part.parser),
              boost::asio::error::connection_reset);
}

}  // namespace
}  // namespace easgate::common
