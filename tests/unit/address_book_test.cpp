#include "easgate/upstream/address_book.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace easgate::upstream {
namespace {

using Address = AddressBook::Address;

Address at(const char* ip) { return {boost::asio::ip::make_address(ip), 443}; }

TEST(AddressBook, EachFindStartsAtTheNextAddress) {
    AddressBook book(1, std::chrono::seconds(10));
    EXPECT_TRUE(book.find(0).empty());
    book.store(0, {at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")});
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.2"), at("192.0.2.3"), at("192.0.2.1")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.3"), at("192.0.2.1"), at("192.0.2.2")}));
}

using News = AddressBook::News;

TEST(AddressBook, AnAddressSetAsideComesLastUntilItConnects) {
    AddressBook book(1, std::chrono::seconds(10));
    book.store(0, {at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")});
    EXPECT_EQ(book.connected(0, at("192.0.2.2"), false), News::failing);
    EXPECT_EQ(book.connected(0, at("192.0.2.2"), false), News::none) << "a streak is news once";
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.1"), at("192.0.2.3"), at("192.0.2.2")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.3"), at("192.0.2.1"), at("192.0.2.2")}));
    // It connected (tried when the others failed): in its turn again.
    EXPECT_EQ(book.connected(0, at("192.0.2.2"), true), News::connects_again);
    EXPECT_EQ(book.connected(0, at("192.0.2.2"), true), News::none);
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.3"), at("192.0.2.1"), at("192.0.2.2")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.2"), at("192.0.2.3"), at("192.0.2.1")}));
}

// Its wait over, it is tried in its turn; failing again, it waits twice as long.
TEST(AddressBook, EachFailureInARowDoublesTheWait) {
    AddressBook book(1, std::chrono::milliseconds(500));
    book.store(0, {at("192.0.2.1"), at("192.0.2.2")});
    const auto first_of_two = [&] {  // how often 192.0.2.1 comes first in two turns
        return (book.find(0).front() == at("192.0.2.1")) + (book.find(0).front() == at("192.0.2.1"));
    };
    EXPECT_EQ(first_of_two(), 1);
    EXPECT_EQ(book.connected(0, at("192.0.2.1"), false), News::failing);
    EXPECT_EQ(first_of_two(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(550));
    EXPECT_EQ(first_of_two(), 1) << "500 ms over: in its turn";
    EXPECT_EQ(book.connected(0, at("192.0.2.1"), false), News::none);
    std::this_thread::sleep_for(std::chrono::milliseconds(550));
    EXPECT_EQ(first_of_two(), 0) << "1 s this time";
    std::this_thread::sleep_for(std::chrono::milliseconds(550));
    EXPECT_EQ(first_of_two(), 1);
}

// A refresh that no longer lists an address forgets that it was set aside.
TEST(AddressBook, AnAddressGoneFromDnsIsNoLongerSetAside) {
    AddressBook book(1, std::chrono::seconds(10));
    book.store(0, {at("192.0.2.1"), at("192.0.2.2")});
    book.connected(0, at("192.0.2.1"), false);
    book.refreshed(0, "upstream exchange: mail", {}, {});  // a failed lookup changes nothing
    EXPECT_EQ(book.find(0).back(), at("192.0.2.1"));
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    book.refreshed(0, "upstream exchange: mail", {}, resolver.resolve("192.0.2.2", "443"));
    book.refreshed(0, "upstream exchange: mail", {}, resolver.resolve("192.0.2.1", "443"));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.1")}));
    EXPECT_EQ(book.connected(0, at("192.0.2.1"), false), News::failing) << "a new streak";
}

TEST(AddressBook, ServersAreKeptApart) {
    AddressBook book(2, std::chrono::seconds(10));
    book.store(0, {at("192.0.2.1")});
    book.store(1, {at("2001:db8::1")});
    EXPECT_EQ(book.find(1), (AddressBook::Addresses{at("2001:db8::1")}));
    EXPECT_EQ(to_text(at("2001:db8::1")), "[2001:db8::1]:443");
    EXPECT_EQ(to_text(at("192.0.2.1")), "192.0.2.1:443");
}

}  // namespace
}  // namespace easgate::upstream
