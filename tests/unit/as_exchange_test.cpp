// The messages of an AS exchange that easgate carries itself (the doctor's per-KDC check,
// KdcWatch's probe): framed as Kerberos over TCP frames them, and starting with a real AS-REQ.
#include "easgate/kerberos/as_exchange.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace easgate::kerberos {
namespace {

TEST(AsExchangeTest, FramesAMessageAfterItsLengthBigEndian) {
    EXPECT_EQ(tcp_frame("abc"), std::string("\0\0\0\3abc", 7));
    const std::string large(70000, 'x');
    const auto frame = tcp_frame(large);
    ASSERT_EQ(frame.size(), 4 + large.size());
    const std::array<unsigned char, 4> prefix{
        static_cast<unsigned char>(frame[0]), static_cast<unsigned char>(frame[1]),
        static_cast<unsigned char>(frame[2]), static_cast<unsigned char>(frame[3])};
    EXPECT_EQ(prefix, (std::array<unsigned char, 4>{0x00, 0x01, 0x11, 0x70}));
    EXPECT_EQ(tcp_frame_length(prefix), 70000u);
    EXPECT_EQ(tcp_frame_length({0xff, 0xff, 0xff, 0xff}), 0xffffffffu);
}

TEST(AsExchangeTest, StartsWithAnAsReqForThePrincipalAndEndsOnAReplyThatIsNoKerberos) {
    const Krb5Context context;
    AsExchange login(context, "EASGATE$@WATCH.TEST");
    ASSERT_EQ(login.error(), 0) << context.message(login.error());
    const auto request = login.next("");
    ASSERT_TRUE(request.has_value()) << context.message(login.error());
    ASSERT_FALSE(request->empty());
    EXPECT_EQ(static_cast<unsigned char>((*request)[0]), 0x6a) << "an AS-REQ: [APPLICATION 10]";
    EXPECT_NE(request->find("WATCH.TEST"), std::string::npos) << "the request names the realm";

    EXPECT_FALSE(login.next("HTTP/1.1 400 Bad Request\r\n\r\n").has_value());
    EXPECT_NE(login.error(), 0) << "an answer that is no Kerberos message ends the exchange with an error";
    EXPECT_FALSE(login.next("").has_value()) << "nothing more once it ended";
}

TEST(AsExchangeTest, AMalformedPrincipalIsAnErrorBeforeAnyRequest) {
    const Krb5Context context;
    AsExchange login(context, "two@realms@AT.ONCE");
    EXPECT_NE(login.error(), 0);
    EXPECT_FALSE(login.next("").has_value());
}

}  // namespace
}  // namespace easgate::kerberos
