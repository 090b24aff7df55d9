#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace easgate::common {

// A regular expression (Perl syntax, as in nginx and Exchange's own device rules' tooling) found
// anywhere in a text, ignoring case; anchor it with ^ and $ for a whole match. Boost.Regex rather
// than std::regex: it does not recurse, so a long device-sent text can't exhaust the stack, and
// it gives up on a pathological pattern instead of running for ever.
class TextPattern {
public:
    // Throws std::invalid_argument with the pattern's error when it does not compile.
    explicit TextPattern(std::string_view pattern);

    // False also when the search gave up (too complex for this text).
    bool found_in(std::string_view text) const;

private:
    struct Compiled;                         // the boost::regex, kept out of this header
    std::shared_ptr<const Compiled> regex_;  // shared: copies need no recompiling
};

}  // namespace easgate::common
