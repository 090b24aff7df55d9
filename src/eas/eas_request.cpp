#include "easgate/eas/eas_request.hpp"

#include <algorithm>
#include <string>

#include "ascii_text.hpp"
#include "query.hpp"

namespace easgate::eas {
namespace {

constexpr std::string_view active_sync_path = "/Microsoft-Server-ActiveSync";
constexpr std::string_view autodiscover_path = "/autodiscover/autodiscover.xml";

constexpr std::size_t max_policy_key_bytes = 64;  // MS-ASPROV 2.2.2.42

// Classifies the path; refuses spellings that a server normalising paths could read differently.
std::string classify_path(std::string_view raw_path, EasPath& path) {
    std::string storage;
    const std::optional<std::string_view> decoded = percent_decode(raw_path, false, storage);
    if (!decoded) return "path has a malformed percent escape";
    std::string_view remaining = *decoded;
    if (was_decoded(remaining, storage) && has_control(remaining)) return "path holds a control character";
    if (remaining.find('\\') != std::string_view::npos) return "path holds a backslash";
    if (remaining.size() > 1 && remaining.back() == '/') remaining.remove_suffix(1);
    const std::string_view normalised = remaining;
    if (remaining.size() > 1) {
        remaining.remove_prefix(1);
        while (true) {
            const std::size_t slash = remaining.find('/');
            const std::string_view segment = remaining.substr(0, slash);
            if (segment.empty()) return "path has an empty segment";
            if (segment == "." || segment == "..") return "path has a '.' or '..' segment";
            if (slash == std::string_view::npos) break;
            remaining.remove_prefix(slash + 1);
        }
    }
    if (equals_ignoring_case(normalised, active_sync_path)) {
        path = EasPath::active_sync;
    } else if (equals_ignoring_case(normalised, autodiscover_path)) {
        path = EasPath::autodiscover;
    } else {
        path = EasPath::other;
    }
    return {};
}

// "14.1", "2.5": the shape of every value MS-ASHTTP 2.2.1.1.2.6 lists.
bool is_protocol_version(std::string_view version) {
    const std::size_t dot = version.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot > 2 || version.size() != dot + 2) return false;
    return std::all_of(version.begin(), version.begin() + dot, is_digit) && is_digit(version.back());
}

// Only for the ActiveSync path: the fields mean nothing elsewhere, so they are not judged there.
std::string apply_eas_headers(const EasHeaders& headers, EasRequest& request) {
    if (request.protocol_version.empty() && !headers.protocol_version.empty()) {
        if (!is_protocol_version(headers.protocol_version)) {
            return "MS-ASProtocolVersion header is not a version such as 14.1";
        }
        request.protocol_version = headers.protocol_version;
    }
    if (request.policy_key.empty() && !headers.policy_key.empty()) {
        if (headers.policy_key.size() > max_policy_key_bytes || !all_visible_ascii(headers.policy_key)) {
            return "X-MS-PolicyKey header is not 1 to " + std::to_string(max_policy_key_bytes) +
                   " visible ASCII characters";
        }
        request.policy_key = headers.policy_key;
    }
    return {};
}

EasParseResult refused(std::string reason) { return {std::nullopt, std::move(reason)}; }

}  // namespace

std::string_view command_label(const EasRequest& request) {
    if (request.command.empty()) return "-";
    return canonical_command(request.command).value_or("other");
}

std::optional<std::string_view> EasRequest::parameter(std::string_view name) const {
    for (const auto& [parameter_name, value] : parameters) {
        if (equals_ignoring_case(parameter_name, name)) return value;
    }
    return std::nullopt;
}

EasParseResult parse_eas_request(std::string_view method, std::string_view target,
                                 const EasHeaders& headers) {
    if (target.empty() || target.front() != '/') return refused("request-target does not start with '/'");
    if (!all_visible_ascii(target)) {
        const auto byte =
            static_cast<unsigned char>(*std::find_if_not(target.begin(), target.end(), is_visible_ascii));
        return refused("request-target holds byte 0x" + hex_byte(byte) + ", which must be percent-encoded");
    }
    if (target.find('#') != std::string_view::npos) return refused("request-target has a fragment");

    const std::size_t question_mark = target.find('?');
    const std::string_view raw_path = target.substr(0, question_mark);
    const std::string_view query =
        question_mark == std::string_view::npos ? std::string_view() : target.substr(question_mark + 1);
    if (query.size() > max_query_bytes) {
        return refused("query is " + std::to_string(query.size()) + " bytes, over the " +
                       std::to_string(max_query_bytes) + "-byte limit");
    }

    EasRequest request;
    if (std::string error = classify_path(raw_path, request.path); !error.empty()) return refused(error);
    // User-Agent is judged on every path, the ActiveSync fields where they mean something.
    if (headers.user_agent_repeated) return refused("User-Agent header sent more than once");
    if (!headers.repeated.empty() && request.path == EasPath::active_sync)
        return refused(std::string(headers.repeated) + " header sent more than once");
    if (request.path == EasPath::active_sync) {
        const bool options = method == "OPTIONS";
        if (query.empty()) {
            if (!options) return refused("ActiveSync request has no query (Cmd, DeviceId and DeviceType)");
        } else {
            std::string error = is_plain_query(query) ? parse_plain_query(query, options, request)
                                                      : parse_base64_query(query, request);
            if (!error.empty()) return refused(error);
        }
        // OPTIONS asks which versions and commands the server supports; it runs no command.
        if (options) request.command.clear();
        if (std::string error = apply_eas_headers(headers, request); !error.empty()) return refused(error);
    }
    request.user_agent = headers.user_agent;
    return {std::move(request), {}};
}

}  // namespace easgate::eas
