#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/common/header_arena.hpp"

namespace easgate::upstream {

// Whether a 400 from the backend says the request header was too long: HTTP.sys ("Request Header
// Too Long", "The size of the request headers is too long") or Apache ("Size of a request header
// field exceeds server limit"). reason: the status line's text; body_start: what of the body has
// arrived. Users in many groups carry Kerberos tokens large enough for this.
bool says_header_too_long(std::string_view reason, std::string_view body_start);

// The WWW-Authenticate fields of an answer, and the schemes they offer, in order: a field may list
// several ("NTLM, Negotiate", as an intermediary folds them), and a piece whose first word holds '='
// is a parameter of the one before (Basic realm="x", charset="UTF-8").
template <class Answer>
std::vector<std::string_view> challenges_of(const Answer& answer) {
    std::vector<std::string_view> challenges;
    for (const auto& field : answer)
        if (field.name() == boost::beast::http::field::www_authenticate) challenges.push_back(field.value());
    return challenges;
}
std::vector<std::string_view> offered_schemes(const std::vector<std::string_view>& challenges);
bool offers_negotiate(const std::vector<std::string_view>& challenges);
// Whether a 401 asks for a Negotiate token (on_challenge sends the request again with one).
bool asks_for_negotiate(const common::ResponseHeader& answer);

// Exchange's 401, read for the operator (the log, and the doctor). challenges: its WWW-Authenticate
// fields; delegating: easgate has a kerberos: section, so it sends a Kerberos token at all (else
// token_sent says whether the device's own credentials went). A 401 to a request easgate sent
// without its token never reaches the device: it goes again with the token.
struct BackendRefusal {
    std::string offered;  // the schemes it offers, "Negotiate, NTLM", or "nothing"
    std::string cause;
    std::string remedy;
    bool from_kerberos_error = false;  // the cause is the KRB-ERROR in Exchange's answer
};
// clock_ahead: how far Exchange's clock is ahead of easgate's (clock_ahead_of), when known: more
// than Kerberos's 5 minutes either way is named as the cause.
BackendRefusal read_backend_refusal(const std::vector<std::string_view>& challenges, bool token_sent,
                                    bool delegating = true,
                                    std::optional<std::chrono::seconds> clock_ahead = std::nullopt);

// How far the clock of the server that sent an HTTP Date field (IMF-fixdate, "Sun, 06 Nov 1994
// 08:49:37 GMT", as IIS sends on every answer) is ahead of now (negative: behind); nullopt when
// the field is missing or unreadable. The field has whole seconds: good enough for minutes of skew.
std::optional<std::chrono::seconds> clock_ahead_of(std::string_view date,
                                                   std::chrono::system_clock::time_point now);
// Kerberos's default tolerance (AD's "Maximum tolerance for computer clock synchronization").
inline constexpr std::chrono::seconds kerberos_skew{300};
// A difference clock_ahead_of measured, before the other clock's name: "7 min 12 s ahead of",
// "3 h 5 min behind", "12 days ahead of".
std::string clock_difference(std::chrono::seconds ahead);
// How to set easgate's and Exchange's clocks right.
extern const char* const clock_remedy;

// Passive health checking: what the answer Exchange sent says of its server.
// - fails (with why), as a refused connection does: a 502, 503 or 504 that is not throttling (IIS
//   answers 503 for a stopped application pool, Exchange 502 to 504 when what stands behind it is
//   down); and a 401 to easgate's Kerberos token that goes on to the device: a server whose key is
//   not the others' (the account with the SPN changed on it alone) refuses every user's ticket
//   (the reason is its KRB-ERROR's, when it sends one);
// - busy: throttling (a 429, 502, 503 or 504 with Retry-After or X-MS-ASThrottle), which says
//   neither that it fails nor that it serves;
// - serves: any other answer.
struct ServerVerdict {
    enum class Kind { serves, busy, fails } kind = Kind::serves;
    std::string reason;  // fails: why
};
ServerVerdict judge_server_answer(const common::ResponseHeader& answer, bool token_sent);
// Whether the answer to a request for target says how its server is: only ActiveSync's do, as
// autodiscover and other routes run in IIS application pools of their own.
bool tells_server_health(std::string_view target);

}  // namespace easgate::upstream
