#pragma once

#include <filesystem>
#include <string_view>
#include <system_error>

namespace easgate::common {

// Writes text beside path (path.new), then renames it over path: a reader (krb5, a restart) sees
// the old file or the new one, never half of one.
std::error_code replace_file(const std::filesystem::path& path, std::string_view text);

}  // namespace easgate::common
