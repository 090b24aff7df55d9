// libFuzzer entry point: the bytes a connection starts with, through the PROXY header parser. It
// aborts when a parsed header claims bytes it was not given or more than the bound, when the
// header's own bytes parse differently from the whole input (a reader consumes exactly them), when
// a prefix of a header is not "need more" (a reader would refuse a header sent in pieces), or when
// a refusal has no known cause or no reason.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "easgate/listener/proxy_header.hpp"

using easgate::listener::parse_proxy_header;
using Status = easgate::listener::ProxyHeaderParse::Status;

namespace {

void check(bool invariant) {
    if (!invariant) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    const auto result = parse_proxy_header(input);
    switch (result.status) {
        case Status::need_more:
            check(size < easgate::listener::proxy_header_max_bytes);
            break;
        case Status::refused:
            check(!result.reason.empty());
            check(std::ranges::find(easgate::listener::proxy_refusal_causes, result.cause) !=
                  easgate::listener::proxy_refusal_causes.end());
            break;
        case Status::parsed: {
            check(result.length > 0 && result.length <= size);
            check(result.length <= easgate::listener::proxy_header_max_bytes);
            const auto alone = parse_proxy_header(input.first(result.length));
            check(alone.status == Status::parsed && alone.length == result.length &&
                  alone.source == result.source);
            for (std::size_t n = 0; n < result.length; ++n)
                check(parse_proxy_header(input.first(n)).status == Status::need_more);
            break;
        }
    }
    return 0;
}
