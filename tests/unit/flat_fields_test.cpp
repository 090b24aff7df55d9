#include "easgate/common/flat_fields.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "easgate/common/header_arena.hpp"

namespace easgate::common {
namespace {

namespace http = boost::beast::http;

// Counts what is taken and given back, and checks each return matches a take.
class CountingMemory final : public std::pmr::memory_resource {
public:
    ~CountingMemory() override {
        EXPECT_TRUE(held_.empty()) << held_.size() << " allocations never given back";
    }
    std::size_t held() const { return held_.size(); }

private:
    void* do_allocate(std::size_t bytes, std::size_t alignment) override {
        void* at = std::pmr::new_delete_resource()->allocate(bytes, alignment);
        held_[at] = {bytes, alignment};
        return at;
    }
    void do_deallocate(void* at, std::size_t bytes, std::size_t alignment) override {
        const auto found = held_.find(at);
        ASSERT_NE(found, held_.end()) << "given back twice, or never taken";
        EXPECT_EQ(found->second, std::make_pair(bytes, alignment)) << "given back with another size";
        held_.erase(found);
        std::pmr::new_delete_resource()->deallocate(at, bytes, alignment);
    }
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
        return this == &other;
    }

    std::map<void*, std::pair<std::size_t, std::size_t>> held_;
};

std::vector<std::string> lines(const FlatFields& fields) {
    std::vector<std::string> out;
    for (const auto& field : fields) out.emplace_back(field.line());
    return out;
}

TEST(FlatFields, KeepsFieldsInArrivalOrderAsTheirWireText) {
    FlatFields fields;
    fields.insert(http::field::host, "mail.example.test");
    fields.insert("ms-asprotocolversion", "16.1");
    fields.insert(http::field::content_length, "HOST", "odd");  // the name as the device spelled it
    fields.insert("X-Empty", "");
    EXPECT_EQ(lines(fields),
              (std::vector<std::string>{"Host: mail.example.test\r\n", "ms-asprotocolversion: 16.1\r\n",
                                        "HOST: odd\r\n", "X-Empty: \r\n"}));
    EXPECT_EQ(fields.begin()->name(), http::field::host);
    EXPECT_EQ(fields.begin()[1].name(), http::field::unknown);
    EXPECT_EQ(fields.begin()[1].name_string(), "ms-asprotocolversion");
    EXPECT_EQ(fields.begin()[1].value(), "16.1");
    EXPECT_EQ(fields.begin()[3].value(), "");
}

TEST(FlatFields, FindsByKnownNameOrByAnyCaseOfAnUnknownOne) {
    FlatFields fields;
    fields.insert("X-Repeated", "one");
    fields.insert(http::field::user_agent, "Apple-iPhone");
    fields.insert("x-repeated", "two");
    EXPECT_EQ(fields["X-REPEATED"], "one");
    EXPECT_EQ(fields.count("X-Repeated"), 2u);
    EXPECT_EQ(fields["user-agent"], "Apple-iPhone");
    EXPECT_EQ(fields[http::field::user_agent], "Apple-iPhone");
    EXPECT_EQ(fields.count(http::field::host), 0u);
    EXPECT_EQ(fields[http::field::host], "");
    EXPECT_EQ(fields.find("X-Absent"), fields.end());
    // An unknown field never matches by its enum: every unknown name shares it.
    EXPECT_EQ(fields.count(http::field::unknown), 0u);
    EXPECT_EQ(fields.erase(http::field::unknown), 0u);
    EXPECT_EQ(fields.size(), 3u);
}

TEST(FlatFields, SetReplacesEveryFieldOfTheNameWithOneAtTheEnd) {
    FlatFields fields;
    fields.insert(http::field::content_length, "1");
    fields.insert(http::field::host, "h");
    fields.insert(http::field::content_length, "2");
    fields.set(http::field::content_length, "3");
    EXPECT_EQ(lines(fields), (std::vector<std::string>{"Host: h\r\n", "Content-Length: 3\r\n"}));
    fields.insert("X-A", "old");
    fields.set("x-a", fields["X-A"]);  // the value views the field it replaces
    EXPECT_EQ(lines(fields),
              (std::vector<std::string>{"Host: h\r\n", "Content-Length: 3\r\n", "x-a: old\r\n"}));
    fields.insert("X-Z", "z");
    // Here the name views the field it replaces, and a field after it is compared once that one is
    // gone (ASan and valgrind see a read of freed memory if the caller's name is used).
    fields.set(fields.find("X-A")->name_string(), "new");
    EXPECT_EQ(lines(fields), (std::vector<std::string>{"Host: h\r\n", "Content-Length: 3\r\n", "X-Z: z\r\n",
                                                       "x-a: new\r\n"}));
}

TEST(FlatFields, EraseReturnsTheNextFieldAndGivesItsMemoryBack) {
    CountingMemory memory;
    {
        FlatFields fields(&memory);
        for (int i = 0; i < 5; ++i) fields.insert("X-" + std::to_string(i), std::to_string(i));
        const std::size_t held = memory.held();
        auto next = fields.erase(fields.begin() + 1);
        EXPECT_EQ(next->name_string(), "X-2");
        EXPECT_EQ(memory.held(), held - 1);
        EXPECT_EQ(fields.erase("x-4"), 1u);
        const auto after_last = fields.erase(fields.begin() + 2);
        EXPECT_EQ(after_last, fields.end());
        EXPECT_EQ(lines(fields), (std::vector<std::string>{"X-0: 0\r\n", "X-2: 2\r\n"}));
    }
    EXPECT_EQ(memory.held(), 0u);  // and the destructor gives back the rest
}

TEST(FlatFields, EraseIfRemovesEveryPickedFieldInOnePassAndGivesTheirMemoryBack) {
    CountingMemory memory;
    FlatFields fields(&memory);
    for (int i = 0; i < 10; ++i) fields.insert("X-" + std::to_string(i), std::to_string(i % 3));
    const std::size_t held = memory.held();
    EXPECT_EQ(fields.erase_if([](const FlatFields::Field& field) { return field.value() != "0"; }), 6u);
    EXPECT_EQ(memory.held(), held - 6);
    EXPECT_EQ(lines(fields),
              (std::vector<std::string>{"X-0: 0\r\n", "X-3: 0\r\n", "X-6: 0\r\n", "X-9: 0\r\n"}));
    EXPECT_EQ(fields.erase_if([](const FlatFields::Field&) { return false; }), 0u);
    EXPECT_EQ(fields.size(), 4u);
}

TEST(FlatFields, GrowsPastItsFirstArrayAndCopiesToTheDefaultMemory) {
    CountingMemory memory;
    FlatFields fields(&memory);
    for (int i = 0; i < 100; ++i) fields.insert("X-Field-" + std::to_string(i), std::string(i, 'v'));
    for (int i = 0; i < 100; ++i) ASSERT_EQ(fields.begin()[i].value(), std::string(i, 'v')) << i;
    const FlatFields copy = fields;
    EXPECT_EQ(copy.resource(), std::pmr::get_default_resource());
    EXPECT_EQ(lines(copy), lines(fields));
    fields.drop();
    EXPECT_EQ(fields.size(), 0u);
    EXPECT_EQ(memory.held(), 0u);
    EXPECT_EQ(copy.size(), 100u);
}

TEST(FlatFields, RefusesANameLongerThanItKeeps) {
    FlatFields fields;
    EXPECT_THROW(fields.insert(std::string(FlatFields::max_name_size + 1, 'x'), "v"), std::length_error);
    EXPECT_EQ(fields.size(), 0u);
}

// The parser keeps what Beast's own parser (on basic_fields) keeps from the same bytes: the request
// line, every field in order and as spelled, the framing, keep-alive and the body.
TEST(HeaderParser, KeepsWhatBeastsParserKeeps) {
    const std::vector<std::string> requests{
        "POST /Microsoft-Server-ActiveSync?Cmd=Sync&User=alice HTTP/1.1\r\nHost: gw\r\n"
        "MS-ASProtocolVersion: 16.1\r\nuser-agent:   Apple-iPhone  \r\nX-Dup: 1\r\nX-Dup: 2\r\n"
        "Content-Length: 5\r\n\r\nhello",
        "PROPFIND /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST /y HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
        // Connection fields are one list (RFC 9110 5.3): a close in the second ends the connection.
        "POST /z HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\nConnection: keep-alive, X-Private\r\n"
        "Connection: close\r\n\r\n",
        "GET /w HTTP/1.0\r\nConnection: X-Private\r\nConnection: keep-alive\r\n\r\n",
        // The parser reads Proxy-Connection as Connection (found by fuzz_header_rewrite).
        "GET /v HTTP/1.0\r\nHost: gw\r\nProxy-Connection: keep-alive\r\n\r\n",
        "GET /u HTTP/1.1\r\nHost: gw\r\nProxy-Connection: close\r\n\r\n",
    };
    for (const auto& raw : requests) {
        http::request_parser<http::string_body> beasts;
        ParserInArena<RequestParser> ours;
        std::string body(64, '\0');
        auto& chunk = ours.parser.get().body();
        chunk.data = body.data();
        chunk.size = body.size();
        boost::beast::error_code beast_error, our_error;
        beasts.eager(true);
        ours.parser.eager(true);
        beasts.put(boost::asio::buffer(raw), beast_error);
        ours.parser.put(boost::asio::buffer(raw), our_error);
        ASSERT_FALSE(beast_error) << beast_error.message();
        ASSERT_FALSE(our_error) << our_error.message();
        ASSERT_TRUE(ours.parser.is_done()) << raw;
        const auto& expected = beasts.get();
        const auto& got = ours.parser.get();
        EXPECT_EQ(got.method_string(), expected.method_string());
        EXPECT_EQ(got.target(), expected.target());
        EXPECT_EQ(got.version(), expected.version());
        EXPECT_EQ(got.keep_alive(), beasts.keep_alive()) << raw;  // the parser's reading of every field
        EXPECT_EQ(got.chunked(), expected.chunked());
        EXPECT_EQ(got.has_content_length(), expected.has_content_length());
        std::vector<std::string> expected_fields, got_fields;
        for (const auto& field : expected)
            expected_fields.push_back(std::string(field.name_string()) + "=" + std::string(field.value()));
        for (const auto& field : got)
            got_fields.push_back(std::string(field.name_string()) + "=" + std::string(field.value()));
        EXPECT_EQ(got_fields, expected_fields);
        EXPECT_EQ(body.substr(0, body.size() - chunk.size), expected.body());
    }
}

// Where one name comes back after another field, the fields stay in arrival order, as on the wire
// (Beast's basic_fields would move the second X-A up behind the first).
TEST(HeaderParser, KeepsArrivalOrderAcrossARepeatedName) {
    ParserInArena<RequestParser> ours;
    boost::beast::error_code ec;
    ours.parser.put(
        boost::asio::buffer(std::string_view("GET / HTTP/1.1\r\nX-A: 1\r\nHost: h\r\nX-A: 2\r\n\r\n")), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(lines(ours.parser.get()),
              (std::vector<std::string>{"X-A: 1\r\n", "Host: h\r\n", "X-A: 2\r\n"}));
}

TEST(HeaderParser, KeepsAResponsesStatusReasonAndFields) {
    ParserInArena<ResponseParser> ours;
    ours.parser.skip(true);
    boost::beast::error_code ec;
    const std::string raw = "HTTP/1.1 451 Mailbox moved\r\nX-MS-Location: https://other/x\r\n\r\n";
    ours.parser.put(boost::asio::buffer(raw), ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(ours.parser.get().result_int(), 451u);
    EXPECT_EQ(ours.parser.get().reason(), "Mailbox moved");
    EXPECT_EQ(ours.parser.get()["x-ms-location"], "https://other/x");
}

}  // namespace
}  // namespace easgate::common
