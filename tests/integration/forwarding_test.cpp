// Requests and responses cross easgate intact: bodies byte for byte (buffered and streamed),
// keep-alive on both sides, hop-by-hop and forwarding headers handled, failures mapped to statuses.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

constexpr std::uint64_t twenty_mib = 20ULL << 20;

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (unsigned i = 0; i < length; ++i) text += {hex[digest[i] >> 4], hex[digest[i] & 0xf]};
    return text;
}

// Bytes that don't repeat with any short period, so a dropped or duplicated chunk changes the hash.
std::string upload_body(std::uint64_t size) {
    std::string body(size, '\0');
    std::uint32_t state = 0x12345678;
    for (auto& c : body) {
        state = state * 1664525u + 1013904223u;
        c = static_cast<char>(state >> 24);
    }
    return body;
}

// The test upstream's /download pattern.
bool is_download_pattern(const std::string& data, std::uint64_t size) {
    if (data.size() != size) return false;
    for (std::uint64_t i = 0; i < size; ++i) {
        if (data[i] != static_cast<char>((i * 31 + 7) & 0xff)) return false;
    }
    return true;
}

class ForwardingTest : public GatewayTest {
protected:
    nlohmann::json upload(const std::string& body, std::vector<std::string> extra = {}) {
        const auto file = work_dir() / "upload.bin";
        write_file(file, body);
        extra.insert(extra.end(), {"--data-binary", "@" + file.string(), "-H",
                                   "Content-Type: application/vnd.ms-sync.wbxml"});
        return curl_report(
            "alice", "/Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&DeviceType=TestDevice",
            extra);
    }

    // A mail of 8 MiB streamed past a 16 KiB read-ahead to an upstream (upstream_url, "": the
    // default one) that answers 413 at its header and closes: the device gets that answer.
    void expect_early_answer_relayed(const std::string& upstream_url,
                                     const std::string& knob = "earlyanswer=1") {
        start_gateway({.upstream_url = upstream_url, .limits = "    upload_read_ahead: 16KiB\n"});
        const auto file = work_dir() / "big-mail.bin";
        write_file(file, std::string(8 * 1024 * 1024, 'm'));
        const auto answer = curl("alice",
                                 "/Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&"
                                 "DeviceType=TestDevice&" +
                                     knob,
                                 {"--data-binary", "@" + file.string(), "--write-out", "\n%{http_code}"});
        EXPECT_TRUE(answer.out.ends_with("mail too big.\n\n413"))
            << answer.out << answer.err << read_file(work_dir() / "upstream-0.out");
        // The access log's line follows the answer out, so curl may end first.
        EXPECT_FALSE(wait_for_gateway_log("\" 413 ").empty()) << gateway_log();
    }

    void expect_download(const std::string& query, std::uint64_t size) {
        const auto file = work_dir() / "download.bin";
        const auto result = curl("alice",
                                 "/Microsoft-Server-ActiveSync?Cmd=GetAttachment&DeviceId=EASGATETEST01&"
                                 "DeviceType=TestDevice&download=1&" +
                                     query,
                                 {"--fail", "--output", file.string()});
        ASSERT_EQ(result.exit_code, 0) << result.err;
        EXPECT_TRUE(is_download_pattern(read_file(file), size));
    }
};

TEST_F(ForwardingTest, SmallUploadIsBufferedAndRelayedByteForByte) {
    start_gateway();
    const auto body = upload_body(100'000);
    const auto report = upload(body);
    EXPECT_EQ(report["method"], "POST");
    EXPECT_EQ(report["body_length"], body.size());
    EXPECT_EQ(report["body_sha256"], sha256_hex(body));
    EXPECT_EQ(report["headers"]["Content-Length"], std::to_string(body.size()));
}

TEST_F(ForwardingTest, UploadLargerThanTheReadAheadIsStreamedByteForByte) {
    start_gateway();  // default read-ahead: 10MiB
    const auto body = upload_body(twenty_mib);
    const auto report = upload(body);
    EXPECT_EQ(report["body_length"], body.size());
    EXPECT_EQ(report["body_sha256"], sha256_hex(body));
}

TEST_F(ForwardingTest, ChunkedUploadWithinTheReadAheadGoesUpstreamWithAContentLength) {
    start_gateway();
    const auto body = upload_body(300'000);
    const auto report = upload(body, {"-H", "Transfer-Encoding: chunked"});
    EXPECT_EQ(report["body_sha256"], sha256_hex(body));
    EXPECT_EQ(report["headers"]["Content-Length"], std::to_string(body.size()));
    EXPECT_FALSE(report["headers"].contains("Transfer-Encoding"));
}

TEST_F(ForwardingTest, ChunkedUploadLargerThanTheReadAheadStaysChunked) {
    start_gateway({.limits = "    upload_read_ahead: 64KiB\n"});
    const auto body = upload_body(3'000'000);
    const auto report = upload(body, {"-H", "Transfer-Encoding: chunked"});
    EXPECT_EQ(report["body_sha256"], sha256_hex(body));
    EXPECT_EQ(report["headers"]["Transfer-Encoding"], "chunked");
}

TEST_F(ForwardingTest, LargeSizedDownloadIsRelayedByteForByte) {
    start_gateway();
    expect_download("bytes=" + std::to_string(twenty_mib), twenty_mib);
}

TEST_F(ForwardingTest, LargeChunkedDownloadIsRelayedByteForByte) {
    start_gateway();
    expect_download("chunked=1&bytes=" + std::to_string(twenty_mib), twenty_mib);
}

TEST_F(ForwardingTest, BodyOverMaxRequestBodyIsRefusedWith413) {
    start_gateway({.limits = "    max_request_body: 1MiB\n"});
    const auto file = work_dir() / "big.bin";
    write_file(file, upload_body(2 << 20));
    const auto result = curl(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&DeviceType=TestDevice",
        {"--data-binary", "@" + file.string(), "--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "413");
    EXPECT_NE(gateway_log().find("exceeds limits.max_request_body (1MiB)"), std::string::npos)
        << gateway_log();
}

TEST_F(ForwardingTest, ChunkedBodyOverMaxRequestBodyIsRefusedWith413) {
    start_gateway({.limits = "    max_request_body: 1MiB\n    upload_read_ahead: 4MiB\n"});
    const auto file = work_dir() / "big.bin";
    write_file(file, upload_body(2 << 20));
    const auto result = curl(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&DeviceType=TestDevice",
        {"--data-binary", "@" + file.string(), "-H", "Transfer-Encoding: chunked", "--write-out",
         "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "413");
}

// A phone uploading more than max_request_body gets its 413 while it is still sending: easgate
// reads and drops the rest (a lingering close) instead of closing on it, which would make the
// kernel reset the connection and could destroy the answer. The phone's writes all go out.
TEST_F(ForwardingTest, AnUploadRefusedBeforeItsBodyIsReadGetsItsAnswerNotAReset) {
    start_gateway({.limits = "    max_request_body: 1MiB\n"});
    const auto upload = upload_paced(
        gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key",
        "POST /Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&DeviceType=TestDevice "
        "HTTP/1.1\r\n"
        "Host: mail\r\nContent-Type: message/rfc822\r\nContent-Length: 8388608\r\n\r\n",
        4 << 20, std::chrono::seconds(4));
    EXPECT_TRUE(upload.body_sent) << "the gateway closed on the device's upload";
    EXPECT_TRUE(upload.response.starts_with("HTTP/1.1 413")) << upload.response;
}

// Exchange refusing a mail over its size limit answers 413 before it has the body and closes on
// the rest: the phone gets that 413 (and stops sending that mail), not a 503 that has it send the
// mail again and again. Over TLS and plain http alike.
TEST_F(ForwardingTest, AnAnswerExchangeSendsBeforeTheWholeBodyReachesTheDevice) {
    expect_early_answer_relayed("");
}

TEST_F(ForwardingTest, AnAnswerSentBeforeTheWholeBodyReachesTheDeviceOverPlainHttp) {
    expect_early_answer_relayed(start_upstream("server", 0, false));
}

// A 100 Continue first (sent for the start of the body, before the server saw its size): the
// answer after it is the one the device gets.
TEST_F(ForwardingTest, AnEarlyAnswerAfterAnInterimOneReachesTheDevice) {
    expect_early_answer_relayed("", "earlyanswer=2");
}

TEST_F(ForwardingTest, KeepAliveReusesOneUpstreamConnectionPerDeviceConnection) {
    start_gateway();
    const auto url =
        gateway_url("/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice");
    const auto result = curl(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=EASGATETEST01&DeviceType=TestDevice", {url});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    // Two JSON reports, one per request, printed one after the other.
    const auto split = result.out.find('\n');
    const auto first = nlohmann::json::parse(result.out.substr(0, split));
    const auto second = nlohmann::json::parse(result.out.substr(split + 1));
    EXPECT_EQ(first["connection"], second["connection"]);
    EXPECT_EQ(first["request_on_connection"], 1);
    EXPECT_EQ(second["request_on_connection"], 2);
}

TEST_F(ForwardingTest, HopByHopHeadersAreDroppedAndForwardingHeadersSetByEasgate) {
    start_gateway();
    const auto report = curl_report(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
        {"-H", "X-Forwarded-For: 203.0.113.9", "-H", "X-Forwarded-Proto: http", "-H",
         "Connection: X-Device-Secret", "-H", "X-Device-Secret: 42", "-H",
         "Proxy-Authorization: Basic Zm9vOmJhcg==", "-H", "MS-ASProtocolVersion: 16.1"});
    const auto& headers = report["headers"];
    EXPECT_EQ(headers["X-Forwarded-For"], "127.0.0.1");
    EXPECT_EQ(headers["X-Forwarded-Proto"], "https");
    EXPECT_FALSE(headers.contains("X-Device-Secret"));
    EXPECT_FALSE(headers.contains("Proxy-Authorization"));
    EXPECT_EQ(headers["MS-ASProtocolVersion"], "16.1");
    EXPECT_EQ(headers["Host"].get<std::string>().rfind("localhost:", 0), 0u) << headers.dump();
}

// Exchange's own answers that EAS clients act on: 449 (provision again), 456/457 (blocked,
// quarantined), 503 with Exchange's Retry-After (throttling). easgate changes none of them.
TEST_F(ForwardingTest, ExchangeStatusesAndTheirHeadersReachTheDeviceUntouched) {
    start_gateway();
    for (const char* status : {"449", "456", "457", "503"}) {
        const auto result = curl("alice",
                                 "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType="
                                 "TestDevice&status=" +
                                     std::string(status),
                                 {"--include"});
        EXPECT_EQ(result.out.rfind("HTTP/1.1 " + std::string(status), 0), 0u) << result.out;
        EXPECT_NE(result.out.find("X-Test-Upstream: yes"), std::string::npos) << status;
        EXPECT_NE(result.out.find("\"target\":"), std::string::npos) << "Exchange's body, not easgate's";
        if (std::string(status) == "503") {
            EXPECT_NE(result.out.find("Retry-After: 120\r\n"), std::string::npos) << result.out;
            EXPECT_EQ(count_of(result.out, "Retry-After"), 1u) << result.out;
        }
    }
}

TEST_F(ForwardingTest, UnreachableUpstreamGives502AndALogLineSayingWhy) {
    start_gateway({.upstream_url = "https://127.0.0.1:" + std::to_string(free_tcp_port())});
    const auto result =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
             {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "502");
    EXPECT_NE(gateway_log().find("unreachable: connecting failed: Connection refused"), std::string::npos)
        << gateway_log();
}

TEST_F(ForwardingTest, SlowUpstreamGives504AfterUpstreamTimeout) {
    start_gateway({.limits = "    upstream_timeout: 1s\n"});
    const auto result = curl("alice",
                             "/Microsoft-Server-ActiveSync?Cmd=FolderSync&DeviceId=EASGATETEST01&DeviceType="
                             "TestDevice&delayms=4000",
                             {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "504");
    EXPECT_NE(gateway_log().find("did not answer within limits.upstream_timeout (1s)"), std::string::npos)
        << gateway_log();
}

TEST_F(ForwardingTest, UpstreamWithTheWrongHostNameIsRefusedWith502) {
    start_gateway({.upstream_url = start_upstream("server-wrong-name")});
    const auto result =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
             {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "502");
    EXPECT_NE(gateway_log().find("hostname mismatch"), std::string::npos) << gateway_log();
}

TEST_F(ForwardingTest, UpstreamCertificateFromAnUntrustedCaIsRefusedWith502) {
    start_gateway({.upstream_ca_file = (pki_dir() / "device-root.pem").string()});
    const auto result =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
             {"--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "502");
    EXPECT_NE(gateway_log().find("unable to get local issuer certificate"), std::string::npos)
        << gateway_log();
}

TEST_F(ForwardingTest, OversizedRequestHeaderGets431) {
    start_gateway({.limits = "    max_header_bytes: 4KiB\n"});
    const auto result = curl(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
        {"-H", "X-Big: " + std::string(8000, 'a'), "--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "431");
    EXPECT_NE(gateway_log().find("431 request header larger than limits.max_header_bytes (4KiB)"),
              std::string::npos)
        << gateway_log();
}

// A header within a raised max_header_bytes whose one field's name is longer than a name may be:
// the log names that, not the limit the header kept to.
TEST_F(ForwardingTest, AFieldNameOver64KiBGets431ThatSaysSo) {
    start_gateway({.limits = "    max_header_bytes: 128KiB\n"});
    const auto result =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
             {"-H", std::string(70000, 'X') + ": a", "--write-out", "%{http_code}", "--output", "/dev/null"});
    EXPECT_EQ(result.out, "431");
    EXPECT_NE(gateway_log().find("431 a request header field's name is longer than 65535 bytes"),
              std::string::npos)
        << gateway_log();
    EXPECT_EQ(gateway_log().find("max_header_bytes"), std::string::npos) << gateway_log();
}

// Kerberos between easgate and Exchange is easgate's: the mutual-authentication token and
// Persistent-Auth never reach a device that authenticated with its certificate.
TEST_F(ForwardingTest, BackendAuthenticationArtefactsStayWithEasgate) {
    start_gateway();
    const auto answer =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=FolderSync" + device_query + "&authartefacts=1",
             {"--include"});
    EXPECT_NE(answer.out.find("HTTP/1.1 200"), std::string::npos) << answer.out;
    EXPECT_EQ(answer.out.find("WWW-Authenticate"), std::string::npos) << answer.out;
    EXPECT_EQ(answer.out.find("Persistent-Auth"), std::string::npos) << answer.out;
    EXPECT_NE(answer.out.find("Set-Cookie: X-BackEndCookie"), std::string::npos)
        << "cookies are relayed as Exchange set them (docs/forwarding.md):\n"
        << answer.out;
}

// Exchange names its front-end and mailbox servers and its versions in every answer (a penetration
// test's usual finding against a published Exchange): easgate keeps them inside.
TEST_F(ForwardingTest, ExchangesServerNamesStayWithEasgate) {
    start_gateway();
    const auto answer = curl(
        "alice", "/Microsoft-Server-ActiveSync?Cmd=FolderSync" + device_query + "&topology=1", {"--include"});
    EXPECT_NE(answer.out.find("HTTP/1.1 200"), std::string::npos) << answer.out;
    for (const char* inside : {"EXCH0", "exch02", "X-Powered-By", "X-AspNet-Version", "Microsoft-IIS"})
        EXPECT_EQ(answer.out.find(inside), std::string::npos) << inside << "\n" << answer.out;
    EXPECT_NE(answer.out.find("MS-Server-ActiveSync: 15.20"), std::string::npos) << answer.out;
}

}  // namespace
}  // namespace easgate::testing
