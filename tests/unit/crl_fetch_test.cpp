// One CRL download as crl_refresh and the doctor make it, from CDPs that fail the way networks and
// web servers do: a black hole, a slow link, an answer too large, a status other than 200, and
// URLs that are not plain http. The CDP is the suite's CdpServer, a FaultRelay in front when the
// network is to fail.
#include "easgate/identity/crl_fetch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include "cdp_server.hpp"
#include "fault_relay.hpp"

namespace easgate::identity {
namespace {

using namespace std::chrono_literals;
using testing::CdpServer;
using testing::FaultRelay;

FetchedCrl fetch(const std::string& url, std::chrono::milliseconds timeout = 2s,
                 std::uint64_t max_bytes = 1024 * 1024) {
    boost::asio::io_context io;
    auto fetched = boost::asio::co_spawn(io, fetch_crl(url, timeout, max_bytes), boost::asio::use_future);
    io.run();
    return fetched.get();
}

std::string relayed_url(const FaultRelay& relay, const std::string& name) {
    return "http://127.0.0.1:" + std::to_string(relay.port()) + "/" + name;
}

// AD CS names the file after the CA, spaces and all: the target goes out as written.
TEST(CrlFetch, TheAnswerIsTheBodyOfTheUrlAsWritten) {
    CdpServer cdp;
    cdp.publish("CertEnroll/Corp%20Issuing%20CA.crl", "the CRL");
    const auto fetched = fetch(cdp.url("CertEnroll/Corp%20Issuing%20CA.crl"));
    EXPECT_EQ(fetched.error, "");
    EXPECT_EQ(fetched.body, "the CRL");
    EXPECT_EQ(cdp.requests("CertEnroll/Corp%20Issuing%20CA.crl"), 1);
    EXPECT_EQ(
        fetch("http://localhost:" + std::to_string(cdp.port()) + "/CertEnroll/Corp%20Issuing%20CA.crl").body,
        "the CRL");
}

TEST(CrlFetch, AStatusOtherThan200IsNamed) {
    CdpServer cdp;
    const auto fetched = fetch(cdp.url("unpublished.crl"));
    EXPECT_EQ(fetched.error, "answered 404 Not Found");
    EXPECT_EQ(fetched.body, "");
}

TEST(CrlFetch, AnAnswerOverMaxCrlBytesIsDropped) {
    CdpServer cdp;
    cdp.publish("big.crl", std::string(64 * 1024, 'x'));
    const auto fetched = fetch(cdp.url("big.crl"), 2s, 16 * 1024);
    EXPECT_EQ(fetched.error, "the CRL is larger than client_auth.crl_refresh.max_crl_bytes");
    EXPECT_EQ(fetched.body, "");
    EXPECT_EQ(fetch(cdp.url("big.crl"), 2s, 64 * 1024).body.size(), 64u * 1024);
}

// Beast's parser bounds neither a chunk-size line (its extensions) nor a trailer section: a hostile
// or broken CDP sending one that never ends grew easgate's buffer for as long as the fetch's
// timeout let it (at every start, and at each refresh). Now the read fails at a bound of its own.
TEST(CrlFetch, AChunkLineThatNeverEndsIsCutShort) {
    boost::asio::io_context server_io;
    boost::asio::ip::tcp::acceptor acceptor(server_io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    std::thread cdp([&] {
        auto peer = acceptor.accept();
        std::array<char, 4096> request;
        peer.read_some(boost::asio::buffer(request));
        boost::system::error_code ec;
        boost::asio::write(
            peer, boost::asio::buffer(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;")),
            ec);
        const std::string extension(64 * 1024, 'a');
        for (int i = 0; i < 64 && !ec; ++i) boost::asio::write(peer, boost::asio::buffer(extension), ec);
    });
    const auto fetched =
        fetch("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/ca.crl", 30s);
    cdp.join();
    EXPECT_EQ(fetched.error,
              "reading the answer: a chunk-size line or the trailer section is longer than 16KiB");
}

// A load balancer's address with no server behind it: the connection is taken, nothing answers.
TEST(CrlFetch, ABlackHoleEndsAtTheTimeout) {
    CdpServer cdp;
    cdp.publish("root.crl", "the CRL");
    FaultRelay relay("127.0.0.1", 0, "127.0.0.1", cdp.port(), FaultRelay::Mode::silent);
    const auto started = std::chrono::steady_clock::now();
    const auto fetched = fetch(relayed_url(relay, "root.crl"), 300ms);
    EXPECT_EQ(fetched.error.rfind("reading the answer: ", 0), 0u) << fetched.error;
    EXPECT_NE(fetched.error.find("timeout"), std::string::npos) << fetched.error;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // bounded, not hanging
    EXPECT_EQ(relay.connections(), 1u);

    relay.set_mode(FaultRelay::Mode::slow, 1s);  // a link slower than the timeout allows
    EXPECT_NE(fetch(relayed_url(relay, "root.crl"), 300ms).error.find("timeout"), std::string::npos);
    relay.set_mode(FaultRelay::Mode::forward);  // and once it recovers
    EXPECT_EQ(fetch(relayed_url(relay, "root.crl")).body, "the CRL");
}

TEST(CrlFetch, ARefusedConnectionIsNamed) {
    CdpServer cdp;
    const std::string url = cdp.url("root.crl");
    cdp.stop();
    EXPECT_EQ(fetch(url).error, "connecting: Connection refused");
}

TEST(CrlFetch, OnlyPlainHttpUrlsAreFetched) {
    for (const char* url :
         {"https://pki.example.test/CertEnroll/root.crl",
          "ldap:///CN=Corp%20Root%20CA,CN=pki,CN=CDP,CN=Public%20Key%20Services,CN=Services,"
          "CN=Configuration,DC=example,DC=test?certificateRevocationList?base",
          "file:///etc/passwd", "http://user:secret@127.0.0.1/root.crl", "http:///root.crl",
          "http://127.0.0.1:/root.crl", "HTTP//127.0.0.1/root.crl"}) {
        EXPECT_EQ(fetch(url).error, "not an http:// URL") << url;
    }
}

// An ldap:/// location (AD CS's first) goes to the directory reader the application hands in, an
// http:// one never does; what the reader says is the fetch's answer, held to max_crl_bytes too.
TEST(CrlFetchFrom, DirectoryLocationsAreReadWithTheDirectory) {
    const std::string ldap = "ldap:///CN=Corp%20Issuing%20CA,CN=pki,CN=CDP?certificateRevocationList?base";
    std::vector<std::string> asked;
    std::string answer = "the CRL";
    const DirectoryCrlReader directory = [&](const std::string& url, std::chrono::milliseconds) {
        asked.push_back(url);
        return [](std::string value) -> boost::asio::awaitable<common::Result<std::string>> {
            if (value.empty()) co_return common::Failure::unavailable("no entry CN=Corp Issuing CA");
            co_return value;
        }(answer);
    };
    config::CrlRefresh settings;
    settings.max_crl_bytes = 16;
    const auto from = [&](const std::string& url, const DirectoryCrlReader& reader) {
        boost::asio::io_context io;
        auto fetched =
            boost::asio::co_spawn(io, fetch_crl_from(url, settings, reader), boost::asio::use_future);
        io.run();
        return fetched.get();
    };
    EXPECT_EQ(from(ldap, directory).body, "the CRL");
    answer.clear();
    EXPECT_EQ(from(ldap, directory).error, "no entry CN=Corp Issuing CA");
    answer = std::string(17, 'x');
    EXPECT_EQ(from(ldap, directory).error, "the CRL is larger than client_auth.crl_refresh.max_crl_bytes");
    EXPECT_NE(from(ldap, nullptr).error.find("there is no directory section"), std::string::npos);
    CdpServer cdp;
    cdp.publish("root.crl", "root CRL");
    EXPECT_EQ(from(cdp.url("root.crl"), directory).body, "root CRL");
    EXPECT_EQ(asked, std::vector<std::string>(3, ldap));
}

TEST(CrlFetchFrom, FetchableLocationsAreHttpAndTheDirectorysOwn) {
    EXPECT_TRUE(fetchable_crl_url("http://pki.example.test/CertEnroll/root.crl"));
    EXPECT_TRUE(fetchable_crl_url("ldap:///CN=Corp%20Root%20CA,CN=pki?certificateRevocationList"));
    EXPECT_FALSE(fetchable_crl_url("ldap://ca.example.test/CN=Corp%20Root%20CA?certificateRevocationList"));
    EXPECT_FALSE(fetchable_crl_url("ldaps:///CN=Corp%20Root%20CA?certificateRevocationList"));
    EXPECT_FALSE(fetchable_crl_url("https://pki.example.test/CertEnroll/root.crl"));
    EXPECT_FALSE(fetchable_crl_url("file:///etc/passwd"));
}

}  // namespace
}  // namespace easgate::identity
