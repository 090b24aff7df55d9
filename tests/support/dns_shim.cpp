// libeasgate-dns-shim: preloaded into easgate by end-to-end tests (LD_PRELOAD) to stand in for a
// DNS server, slow or down, without any lookup leaving the machine. Names ending in ".dns-shim.test"
// are answered here and never passed on; every other name goes to the C library as usual.
//   EASGATE_DNS_SHIM_LOG      a line is appended per lookup of a shim name (tests count them)
//   EASGATE_DNS_SHIM_DELAY_MS each lookup of a shim name takes this long (a DNS server that is slow)
//   EASGATE_DNS_SHIM_DOWN     while this file exists, lookups of shim names fail with EAI_AGAIN
//   EASGATE_DNS_SHIM_ADDRESSES what a shim name stands for, in this order ("127.0.0.2,127.0.0.1", as a
//                             name with several A records); 127.0.0.1 when unset
// glibc's freeaddrinfo frees a list node by node, so the lists of several addresses can be chained.
#include <dlfcn.h>
#include <netdb.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

namespace {

bool is_shim_name(const char* node) {
    constexpr std::string_view suffix = ".dns-shim.test";
    return node != nullptr && std::string_view(node).ends_with(suffix);
}

}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** result) {
    using Lookup = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
    static const auto next = reinterpret_cast<Lookup>(dlsym(RTLD_NEXT, "getaddrinfo"));
    if (!is_shim_name(node)) return next(node, service, hints, result);
    if (const char* log = std::getenv("EASGATE_DNS_SHIM_LOG"))
        std::ofstream(log, std::ios::app) << node << "\n";
    if (const char* delay = std::getenv("EASGATE_DNS_SHIM_DELAY_MS"))
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
    if (const char* down = std::getenv("EASGATE_DNS_SHIM_DOWN");
        down != nullptr && std::ifstream(down).good())
        return EAI_AGAIN;
    struct addrinfo numeric = hints != nullptr ? *hints : addrinfo{};
    numeric.ai_flags |= AI_NUMERICHOST;
    const char* listed = std::getenv("EASGATE_DNS_SHIM_ADDRESSES");
    std::stringstream addresses(listed != nullptr ? listed : "127.0.0.1");
    *result = nullptr;
    struct addrinfo** tail = result;
    for (std::string address; std::getline(addresses, address, ',');) {
        if (const int error = next(address.c_str(), service, &numeric, tail); error != 0) {
            if (*result != nullptr) freeaddrinfo(*result);
            return error;
        }
        while (*tail != nullptr) tail = &(*tail)->ai_next;
    }
    return 0;
}
