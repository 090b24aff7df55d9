#include "easgate/upstream/backend_diagnosis.hpp"

#include <algorithm>
#include <array>
#include <ctime>

#include "easgate/common/text.hpp"
#include "easgate/upstream/kerberos_error_token.hpp"

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

std::vector<std::string_view> offered_schemes(const std::vector<std::string_view>& challenges) {
    std::vector<std::string_view> schemes;
    for (const auto field : challenges) {
        std::size_t start = 0;
        bool quoted = false;  // a comma in a quoted realm separates nothing
        for (std::size_t at = 0; at <= field.size(); ++at) {
            if (at < field.size() && field[at] == '"') quoted = !quoted;
            if (at < field.size() && (quoted || field[at] != ',')) continue;
            auto piece = field.substr(start, at - start);
            start = at + 1;
            piece.remove_prefix(std::min(piece.find_first_not_of(" \t"), piece.size()));
            const auto scheme = piece.substr(0, piece.find_first_of(" \t"));
            if (!scheme.empty() && scheme.find('=') == std::string_view::npos) schemes.push_back(scheme);
        }
    }
    return schemes;
}

namespace {

bool names_negotiate(const std::vector<std::string_view>& schemes) {
    return std::any_of(schemes.begin(), schemes.end(), [](std::string_view scheme) {
        return common::equals_ignoring_case(scheme, "Negotiate");
    });
}

}  // namespace

bool offers_negotiate(const std::vector<std::string_view>& challenges) {
    return names_negotiate(offered_schemes(challenges));
}

bool asks_for_negotiate(const common::ResponseHeader& answer) {
    return answer.result_int() == 401 && offers_negotiate(challenges_of(answer));
}

std::optional<std::chrono::seconds> clock_ahead_of(std::string_view date,
                                                   std::chrono::system_clock::time_point now) {
    const std::string text(date);
    std::tm utc{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
    if (end == nullptr || *end != '\0') return std::nullopt;
    // In seconds: a year like 9999 would overflow system_clock's nanoseconds. A difference of years
    // is no clock to read.
    const auto ahead = std::chrono::seconds(timegm(&utc)) -
                       std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    if (std::chrono::abs(ahead) > std::chrono::hours(24 * 366 * 10)) return std::nullopt;
    return ahead;
}

std::string clock_difference(std::chrono::seconds ahead) {
    const long long seconds = std::chrono::abs(ahead).count();
    std::string text;
    if (seconds < 3600) {
        text = std::to_string(seconds / 60) + " min " + std::to_string(seconds % 60) + " s";
    } else if (seconds < 48 * 3600) {
        text = std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
    } else {
        text = std::to_string(seconds / 86400) + " days";
    }
    return text + (ahead.count() > 0 ? " ahead of" : " behind");
}

const char* const clock_remedy =
    "set both clocks from the domain's time: on easgate, chrony or systemd-timesyncd with the domain "
    "controllers as servers; on Exchange, w32tm /resync (a domain member follows the PDC emulator, which "
    "should follow a reliable source)";

namespace {

// service: the SPN@REALM the KRB-ERROR named, or empty.
std::string key_remedy(std::string_view service) {
    const std::string spn = service.empty() ? "<the SPN in upstreams[].service_principal>"
                                            : std::string(service.substr(0, service.find('@')));
    return "every Exchange server must decrypt with the current key of the one account that holds the SPN "
           "(setspn -Q " +
           spn +
           " names it): with an alternate service account, deploy its credential to the server that refuses "
           "(RollAlternateServiceAccountPassword.ps1 -ToSpecificServers <server> -CopyFrom <a server that "
           "accepts>; Get-ClientAccessService -IncludeAlternateServiceAccountCredentialStatus shows which "
           "lack it); without one, the SPN belongs on that server's computer account";
}

// Exchange's clock as its Date header shows it, when it came.
std::string clock_cause(std::string_view what, std::optional<std::chrono::seconds> clock_ahead) {
    std::string cause(what);
    if (!clock_ahead) return cause;
    if (std::chrono::abs(*clock_ahead) <= std::chrono::seconds(60))
        return cause + ", although its Date header is within a minute of easgate's clock";
    return cause + "; Exchange's clock is " + clock_difference(*clock_ahead) + " easgate's (its Date header)";
}

// The cause and remedy an acceptor's KRB-ERROR tells; nothing when its code names none more precise
// than the general refusal.
std::optional<BackendRefusal> explain_kerberos_error(const KerberosErrorToken& error,
                                                     std::optional<std::chrono::seconds> clock_ahead) {
    namespace code = kerberos_code;
    const std::string spn = error.service.empty() ? "the SPN" : error.service;
    std::string cause;
    std::string remedy = clock_remedy;
    switch (error.code) {
        case code::bad_integrity:  // MIT's word for a ticket that fails to decrypt
        case code::modified:       // Windows'
            cause = "Exchange could not decrypt the ticket the KDC made for " + spn +
                    ": this server does not hold the current key of the account the SPN is on";
            remedy = key_remedy(error.service);
            break;
        case code::bad_key_version:
            cause = "Exchange holds a key for " + spn +
                    " of another version than the KDC used: the account's password changed and this server "
                    "was not given the new one";
            remedy = key_remedy(error.service);
            break;
        case code::no_key:
            cause =
                "Exchange holds no key for " + spn + " at all (or, MIT's acceptor, cannot read its keytab)";
            remedy = key_remedy(error.service);
            break;
        case code::not_us:
            cause = "the ticket is for " + spn + ", for which this Exchange server holds no key";
            remedy = key_remedy(error.service) +
                     "; if the SPN names another server, set upstreams[].service_principal to the SPN of the "
                     "name in upstreams[].servers";
            break;
        case code::skew:
            cause = clock_cause(
                "Exchange finds the time in easgate's token more than 5 minutes from its own clock",
                clock_ahead);
            break;
        case code::ticket_expired:
        case code::ticket_not_yet_valid:
            cause = clock_cause(
                "by Exchange's clock the ticket has expired or is not yet valid (its times are the domain "
                "controller's)",
                clock_ahead);
            break;
        default:
            return std::nullopt;
    }
    return BackendRefusal{
        .offered = {},
        .cause = "the token was refused with " + kerberos_error_name(error.code) + ": " + cause,
        .remedy = std::move(remedy),
        .from_kerberos_error = true};
}

}  // namespace

BackendRefusal read_backend_refusal(const std::vector<std::string_view>& challenges, bool token_sent,
                                    bool delegating, std::optional<std::chrono::seconds> clock_ahead) {
    BackendRefusal refusal;
    const auto schemes = offered_schemes(challenges);
    const bool negotiate = names_negotiate(schemes);
    const auto error = kerberos_error_in(challenges);  // sent to a token that asked for mutual authentication
    for (const auto scheme : schemes)
        refusal.offered += (refusal.offered.empty() ? "" : ", ") + std::string(scheme);
    if (refusal.offered.empty()) refusal.offered = "nothing";
    if (!delegating) {
        refusal.cause = token_sent ? "Exchange refused the credentials the device sent (easgate has no "
                                     "kerberos: section, and passes them on)"
                                   : "easgate sends Exchange no credentials: it has no kerberos: section";
        refusal.remedy =
            "configure kerberos: (and directory:) so that easgate delegates each user's identity";
    } else if (!negotiate) {
        refusal.cause =
            "Negotiate not offered: Windows Authentication with its Negotiate provider is off on "
            "Microsoft-Server-ActiveSync (Exchange's default there is Basic only)";
        refusal.remedy =
            "add Negotiate to Windows Authentication on Microsoft-Server-ActiveSync (Exchange Management "
            "Shell: "
            "Set-ActiveSyncVirtualDirectory -Identity \"<server>\\Microsoft-Server-ActiveSync (Default Web "
            "Site)\" -WindowsAuthEnabled $true; or IIS Manager → Default Web Site → "
            "Microsoft-Server-ActiveSync "
            "→ Authentication → Windows Authentication → enabled, Providers → Negotiate above NTLM)";
    } else if (auto told = error ? explain_kerberos_error(*error, clock_ahead) : std::nullopt) {
        told->offered = std::move(refusal.offered);
        refusal = std::move(*told);
    } else if (clock_ahead && std::chrono::abs(*clock_ahead) > kerberos_skew) {
        refusal.cause =
            "the token was refused: Exchange's clock is " + clock_difference(*clock_ahead) +
            " easgate's (its Date header), and Kerberos refuses a ticket from a clock more than 5 "
            "minutes off";
        refusal.remedy = clock_remedy;
    } else {
        refusal.cause = "the token was refused" + (error ? " with " + kerberos_error_name(error->code) : "") +
                        ": Exchange did not accept the delegated Kerberos ticket";
        // Where Exchange's Date shows the clocks agree, they are not what to check.
        const bool clocks_agree = clock_ahead && std::chrono::abs(*clock_ahead) <= std::chrono::seconds(60);
        if (clocks_agree) refusal.cause += " (its clock agrees with easgate's)";
        refusal.remedy =
            "IIS must be able to decrypt it: the SPN in upstreams[].service_principal must be on the "
            "account whose key IIS uses (the Alternate Service Account on load-balanced servers; setspn "
            "-Q), with that key current on every server (its keytab or password); ";
        if (!clocks_agree) {
            refusal.remedy +=
                "the clocks of easgate and Exchange must be less than 5 minutes apart (Kerberos refuses "
                "more; "
                "check NTP on both); ";
        }
        refusal.remedy +=
            "and if Exchange requires Extended Protection, the token must be bound to the TLS connection "
            "(keep upstreams[].channel_binding: auto, and let no device terminate TLS between easgate and "
            "Exchange)";
    }
    return refusal;
}

bool tells_server_health(std::string_view target) {
    constexpr std::string_view active_sync = "/Microsoft-Server-ActiveSync";
    return common::equals_ignoring_case(target.substr(0, active_sync.size()), active_sync);
}

ServerVerdict judge_server_answer(const common::ResponseHeader& answer, bool token_sent) {
    using Kind = ServerVerdict::Kind;
    const unsigned status = answer.result_int();
    if (status == 401 && token_sent) {
        if (const auto refusal = read_backend_refusal(challenges_of(answer), true);
            refusal.from_kerberos_error)
            return {Kind::fails, "it answered 401: " + refusal.cause};
        return {Kind::fails,
                "it refused easgate's Kerberos token (401), from a ticket that renewing would not mend (new, "
                "or never accepted): does this server hold the current key of the account with the SPN (an "
                "alternate service account credential not deployed to it, another server's keytab)?"};
    }
    if (status != 429 && (status < 502 || status > 504)) return {};
    if (answer.count(boost::beast::http::field::retry_after) > 0 || answer.count("X-MS-ASThrottle") > 0)
        return {Kind::busy, {}};
    if (status == 429) return {};
    return {Kind::fails, "it answered " + std::to_string(status) + " " + std::string(answer.reason()) +
                             ", not throttling (no Retry-After or X-MS-ASThrottle): IIS answers 503 when "
                             "Exchange's application pool is stopped"};
}

}  // namespace easgate::upstream
