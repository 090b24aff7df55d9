#include <algorithm>
#include <array>
#include <utility>

#include "ascii_text.hpp"
#include "query.hpp"

namespace easgate::eas {
namespace {

// Command parameters (2.2.1.1.1.2.5), the spelling kept whatever case the device used.
constexpr std::array<std::string_view, 6> known_parameters = {"AttachmentName", "CollectionId", "ItemId",
                                                              "LongId",         "Occurrence",   "SaveInSent"};

constexpr std::size_t max_command_name_bytes = 32;
constexpr std::size_t max_parameter_name_bytes = 64;

// The spec's spelling of a plain-form name, or nullopt for a name it does not list.
std::optional<std::string_view> known_plain_name(std::string_view name) {
    for (const std::string_view field : {"Cmd", "User", "DeviceId", "DeviceType"}) {
        if (equals_ignoring_case(name, field)) return field;
    }
    for (const std::string_view known : known_parameters) {
        if (equals_ignoring_case(name, known)) return known;
    }
    return std::nullopt;
}

}  // namespace

bool is_plain_query(std::string_view query) {
    if (query.find('&') != std::string_view::npos) return true;
    const std::size_t equals = query.find('=');
    if (equals == std::string_view::npos) return false;
    if (query.find_first_not_of('=', equals) != std::string_view::npos) return true;
    return known_plain_name(query.substr(0, equals)).has_value();
}

std::string parse_plain_query(std::string_view query, bool options, EasRequest& request) {
    // Repeats are found without a list of names: the four fields by flag, other parameters among
    // those this query added (names compared ignoring case, as before canonical spelling).
    const std::size_t first_parameter = request.parameters.size();
    std::size_t count = 0;
    bool has_command = false, has_user = false, has_device_id = false, has_device_type = false;
    std::string name_storage, value_storage;  // only for escaped names and values
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view segment = query.substr(start, end - start);
        start = end + 1;
        if (segment.empty()) continue;  // "&&" or a trailing '&': harmless
        if (count == max_query_parameters) {
            return "query has more than " + std::to_string(max_query_parameters) + " parameters";
        }
        ++count;
        const std::size_t equals = segment.find('=');
        if (equals == std::string_view::npos)
            return "query parameter " + std::to_string(count) + " has no '='";
        const std::optional<std::string_view> raw_name =
            percent_decode(segment.substr(0, equals), true, name_storage);
        if (!raw_name || raw_name->empty() || raw_name->size() > max_parameter_name_bytes ||
            !std::all_of(raw_name->begin(), raw_name->end(),
                         [](char c) { return is_alpha(c) || is_digit(c); })) {
            return "query parameter " + std::to_string(count) + " has a malformed name";
        }
        // Validated as letters and digits above, so safe to repeat in an error.
        const std::string_view name = known_plain_name(*raw_name).value_or(*raw_name);
        const std::optional<std::string_view> value =
            percent_decode(segment.substr(equals + 1), true, value_storage);
        if (!value) return "query parameter " + std::string(name) + " has a malformed percent escape";
        if (was_decoded(*value, value_storage) && has_control(*value))
            return "query parameter " + std::string(name) + " holds a control character";
        const auto seen = [&](bool& flag) { return std::exchange(flag, true); };
        const auto repeated = [&] {
            return "query parameter " + std::string(name) + " appears more than once";
        };

        if (name == "Cmd") {
            if (seen(has_command)) return repeated();
            if (value->empty() || value->size() > max_command_name_bytes ||
                !std::all_of(value->begin(), value->end(), is_alpha)) {
                return "Cmd is not a command name (1 to " + std::to_string(max_command_name_bytes) +
                       " letters)";
            }
            // An unknown command is kept as sent: deciding what to do with it is not the parser's job.
            request.command = std::string(canonical_command(*value).value_or(*value));
        } else if (name == "User") {
            if (seen(has_user)) return repeated();
            request.user = *value;
        } else if (name == "DeviceId") {
            if (seen(has_device_id)) return repeated();
            if (std::string error = device_id_error(*value); !error.empty()) return error;
            request.device_id = *value;
        } else if (name == "DeviceType") {
            if (seen(has_device_type)) return repeated();
            if (std::string error = device_type_error(*value); !error.empty()) return error;
            request.device_type = *value;
        } else {
            const auto added = request.parameters.begin() + static_cast<std::ptrdiff_t>(first_parameter);
            if (std::any_of(added, request.parameters.end(), [&](const auto& parameter) {
                    return equals_ignoring_case(parameter.first, name);
                })) {
                return repeated();
            }
            request.parameters.emplace_back(name, *value);
        }
    }
    if (!options) {
        if (!has_command) return "query has no Cmd";
        if (!has_device_id) return "query has no DeviceId";
        if (!has_device_type) return "query has no DeviceType";
    }
    return {};
}

}  // namespace easgate::eas
