#include "easgate/upstream/backend_diagnosis.hpp"

#include <algorithm>
#include <array>

#include "easgate/common/text.hpp"

namespace easgate::upstream {
namespace {

bool contains_ignoring_case(std::string_view text, std::string_view needle) {
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
               return common::ascii_lower(a) == common::ascii_lower(b);
           }) != text.end();
}

}  // namespace

bool says_header_too_long(std::string_view reason, std::string_view body_start) {
    constexpr std::array phrases{std::string_view("header too long"), std::string_view("request too long"),
                                 std::string_view("headers is too long"),
                                 std::string_view("header field exceeds server limit")};
    return std::any_of(phrases.begin(), phrases.end(), [&](std::string_view phrase) {
        return contains_ignoring_case(reason, phrase) || contains_ignoring_case(body_start, phrase);
    });
}

std::string failing_server_answer(const common::ResponseHeader& answer, bool token_sent) {
    const unsigned status = answer.result_int();
    if (status == 401 && token_sent)
        return "it refused easgate's Kerberos token (401), from a ticket that renewing would not mend (new, "
               "or never accepted): does this server hold the current key of the account with the SPN (an "
               "alternate service account credential not deployed to it, another server's keytab)?";
    if (status < 502 || status > 504) return {};
    if (answer.count(boost::beast::http::field::retry_after) > 0 || answer.count("X-MS-ASThrottle") > 0)
        return {};
    return "it answered " + std::to_string(status) + " " + std::string(answer.reason()) +
           ", not throttling (no Retry-After or X-MS-ASThrottle): IIS answers 503 when Exchange's "
           "application pool is stopped";
}

}  // namespace easgate::upstream
