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

TEST(AddressBook, AnAddressSetAsideComesLastUntilItConnects) {
    AddressBook book(1, std::chrono::seconds(10));
    book.store(0, {at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")});
    EXPECT_TRUE(book.connected(0, at("192.0.2.2"), false));
    EXPECT_FALSE(book.connected(0, at("192.0.2.2"), false)) << "set aside once, not again";
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.1"), at("192.0.2.3"), at("192.0.2.2")}));
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.3"), at("192.0.2.1"), at("192.0.2.2")}));
    EXPECT_FALSE(book.connected(0, at("192.0.2.2"), true));  // a trial when all others failed
    EXPECT_EQ(book.find(0), (AddressBook::Addresses{at("192.0.2.3"), at("192.0.2.1"), at("192.0.2.2")}));
    EXPECT_EQ(book.find(0).front(), at("192.0.2.1"));
}

TEST(AddressBook, AnAddressSetAsideIsTriedInItsTurnAgainAfterAWhile) {
    AddressBook book(1, std::chrono::milliseconds(50));
    book.store(0, {at("192.0.2.1"), at("192.0.2.2")});
    EXPECT_TRUE(book.connected(0, at("192.0.2.1"), false));
    EXPECT_EQ(book.find(0).front(), at("192.0.2.2"));
    EXPECT_EQ(book.find(0).front(), at("192.0.2.2"));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    EXPECT_EQ(book.find(0).front(), at("192.0.2.1"));
    EXPECT_TRUE(book.connected(0, at("192.0.2.1"), false)) << "its time over, it can be set aside again";
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
