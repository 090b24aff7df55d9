#include "fake_directory_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <vector>

#include "test_pki.hpp"

namespace easgate::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Bytes = std::string;

// BER with definite lengths, as the test PKI writes DER; kept as text for the socket.
Bytes tlv(unsigned char tag, const Bytes& contents) {
    const auto encoded = der_tlv(tag, {der_text(contents)});
    return {encoded.begin(), encoded.end()};
}

Bytes text(const std::string& value) { return tlv(0x04, value); }

// LDAPResult: resultCode, matchedDN, diagnosticMessage, and a referral's URIs ([3]).
Bytes result(unsigned char op, int code, const std::string& message, const std::string& referral = {}) {
    Bytes contents = tlv(0x0a, Bytes(1, static_cast<char>(code))) + text("") + text(message);
    if (!referral.empty()) contents += tlv(0xa3, text(referral));
    return tlv(op, contents);
}

Bytes attribute(const std::string& name, const std::string& value) {
    return tlv(0x30, text(name) + tlv(0x31, text(value)));
}

// S-1-5-21-1004336348-1177238915-682003330-<rid> as AD stores it: revision, count, authority
// (big-endian), sub-authorities (little-endian).
Bytes domain_sid(std::uint32_t rid) {
    Bytes sid{1, 5, 0, 0, 0, 0, 0, 5};
    for (const std::uint32_t part : {21u, 1004336348u, 1177238915u, 682003330u, rid})
        for (int shift = 0; shift < 32; shift += 8) sid += static_cast<char>((part >> shift) & 0xff);
    return sid;
}

// The user's token groups, read on its own entry: its primary group, Domain Users (513).
Bytes token_groups_entry() {
    const std::string dn = FakeDirectoryServer::user_dn;
    return tlv(0x64, text(dn) + tlv(0x30, attribute("tokenGroups", domain_sid(513))));
}

Bytes user_entry() {
    const std::string dn = FakeDirectoryServer::user_dn;
    return tlv(0x64, text(dn) + tlv(0x30, attribute("userPrincipalName", FakeDirectoryServer::upn) +
                                              attribute("sAMAccountName", "alice") +
                                              attribute("distinguishedName", dn) +
                                              attribute("userAccountControl", "512") +
                                              attribute("msDS-User-Account-Control-Computed", "0") +
                                              attribute("whenCreated", "20260101120000.0Z") +
                                              attribute("objectSid", domain_sid(1105))));
}

// One BER element read whole: its tag, and its contents.
struct Element {
    unsigned char tag = 0;
    Bytes contents;
};

asio::awaitable<Element> read_element(tcp::socket& socket) {
    unsigned char head[2];
    co_await asio::async_read(socket, asio::buffer(head), asio::use_awaitable);
    std::size_t size = head[1];
    if (size & 0x80) {
        Bytes length(size & 0x7f, '\0');
        co_await asio::async_read(socket, asio::buffer(length), asio::use_awaitable);
        size = 0;
        for (const unsigned char byte : length) size = size << 8 | byte;
    }
    Element element{head[0], Bytes(size, '\0')};
    co_await asio::async_read(socket, asio::buffer(element.contents), asio::use_awaitable);
    co_return element;
}

// The element at `at` in contents (tag, contents), moving `at` past it; short-form lengths and
// the long forms libldap writes.
std::optional<Element> next_element(const Bytes& contents, std::size_t& at) {
    if (at + 2 > contents.size()) return std::nullopt;
    Element element{static_cast<unsigned char>(contents[at]), {}};
    std::size_t size = static_cast<unsigned char>(contents[at + 1]);
    at += 2;
    if (size & 0x80) {
        const std::size_t bytes = size & 0x7f;
        size = 0;
        for (std::size_t i = 0; i < bytes && at < contents.size(); ++i, ++at)
            size = size << 8 | static_cast<unsigned char>(contents[at]);
    }
    if (at + size > contents.size()) return std::nullopt;
    element.contents = contents.substr(at, size);
    at += size;
    return element;
}

asio::awaitable<void> serve(tcp::socket socket, FakeDirectoryServer::Answer answer,
                            std::atomic<std::uint64_t>& searches) {
    using Answer = FakeDirectoryServer::Answer;
    try {
        for (;;) {
            const auto message = co_await read_element(socket);  // LDAPMessage
            std::size_t at = 0;
            const auto id = next_element(message.contents, at);
            const auto op = next_element(message.contents, at);
            if (!id || !op) co_return;
            const Bytes id_tlv = tlv(id->tag, id->contents);
            Bytes reply;
            if (op->tag == 0x60) {  // bindRequest
                reply = tlv(0x30, id_tlv + result(0x61, 0, ""));
            } else if (op->tag == 0x63) {  // searchRequest: baseObject, scope, ...
                ++searches;
                std::size_t field = 0;
                next_element(op->contents, field);
                const auto scope = next_element(op->contents, field);
                const bool subtree = scope && !scope->contents.empty() && scope->contents[0] == 2;
                switch (subtree && answer == Answer::busy_after_search ? Answer::healthy : answer) {
                    case Answer::busy:
                    case Answer::busy_after_search:
                        reply = tlv(0x30, id_tlv + result(0x65, 51, "the server is busy"));
                        break;
                    case Answer::unavailable:
                        reply = tlv(0x30, id_tlv + result(0x65, 52, "the server is shutting down"));
                        break;
                    case Answer::referral:
                        reply = tlv(0x30, id_tlv + result(0x65, 10, "0000202B: RefErr: DSID-0310082F",
                                                          "ldap://other.example.test/DC=other,DC=test"));
                        break;
                    case Answer::healthy:
                    case Answer::healthy_hanging_up:
                        if (subtree) reply = tlv(0x30, id_tlv + user_entry());
                        if (op->contents.find("tokenGroups") != Bytes::npos)
                            reply = tlv(0x30, id_tlv + token_groups_entry());
                        reply += tlv(0x30, id_tlv + result(0x65, 0, ""));
                        break;
                }
                if (answer == Answer::healthy_hanging_up && !subtree) {
                    co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
                    co_return;
                }
            } else {  // unbind, abandon: the client is done
                co_return;
            }
            co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
        }
    } catch (const boost::system::system_error&) {
        // the client went away
    }
}

asio::awaitable<void> accept_all(tcp::acceptor& acceptor, FakeDirectoryServer::Answer answer,
                                 std::atomic<std::uint64_t>& searches) {
    for (;;) {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), answer, searches), asio::detached);
    }
}

}  // namespace

FakeDirectoryServer::FakeDirectoryServer(Answer answer, std::uint16_t port) {
    auto acceptor =
        std::make_shared<tcp::acceptor>(context_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    port_ = acceptor->local_endpoint().port();
    asio::co_spawn(
        context_, [acceptor, answer, this]() { return accept_all(*acceptor, answer, searches_); },
        asio::detached);
    thread_ = std::thread([this] { context_.run(); });
}

FakeDirectoryServer::~FakeDirectoryServer() {
    context_.stop();
    thread_.join();
}

}  // namespace easgate::testing
