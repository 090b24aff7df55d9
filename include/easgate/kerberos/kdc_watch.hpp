#pragma once

// Finds the KDCs of easgate's realm that accept connections and never answer, and has krb5 ask
// them last (KdcOrderFile) until they answer again: without it each KDC exchange of a user new to
// easgate waited 10 s for a hung DC before krb5 asked the next, and phones got 503s until an admin
// took the DC out of krb5.conf.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "easgate/kerberos/kdc_order.hpp"

namespace easgate::kerberos {

// What asking one KDC (over TCP, an AS-REQ for easgate's principal) gave.
enum class KdcAnswer { answered, silent, unreachable };

// Sends request (a Kerberos message) to kdc over TCP; whether a reply began within timeout. Ends
// early, as silent, once stop is set.
KdcAnswer probe_kdc(const KdcAddress& kdc, const std::string& request, std::chrono::milliseconds timeout,
                    const std::atomic<bool>& stop);

class KdcWatch {
public:
    struct Settings {
        std::string realm;
        std::string principal;              // easgate's: the probe's AS-REQ is for it
        std::chrono::milliseconds timeout;  // kerberos.timeout: silent that long is hung
        std::chrono::milliseconds recheck{std::chrono::seconds(10)};  // a hung KDC asked again
        std::atomic<std::uint64_t>* asked_last = nullptr;  // how many KDCs are asked last now (/metrics)
    };
    // Takes file over from the process's watch before it (a reload's): for the same realm with the
    // KDCs it found hung, else emptied. Destroyed while that one lives (a reload that failed), it
    // hands the file back.
    KdcWatch(const KdcOrderFile& file, Settings settings);
    KdcWatch(const KdcWatch&) = delete;
    KdcWatch& operator=(const KdcWatch&) = delete;
    ~KdcWatch();

    // A KDC exchange went unanswered for kerberos.timeout: each KDC is asked on its own, on the
    // watch's thread. Returns at once.
    void suspect();
    // suspect() on the process's newest watch, if any: for the directory's GSSAPI bind, whose
    // service tickets come from the same KDCs.
    static void suspect_installed();
    // suspect_installed(), then, unless a KDC is asked last already, waits until that watch has
    // asked each KDC and ordered them (at most longest_wait): for the directory's failover, so that
    // the next DC's GSSAPI bind asks a hung KDC last instead of waiting for it.
    static void suspect_installed_and_wait();
    static constexpr std::chrono::milliseconds longest_wait{3000};

private:
    void run();
    // Each KDC of the realm in krb5.conf's order, asked at once; the silent ones.
    std::vector<std::string> silent_kdcs(const std::vector<std::string>& kdcs) const;
    // Has krb5 ask the silent KDCs last (unless none answers), and says what changed.
    void order(const std::vector<std::string>& kdcs, std::vector<std::string> silent);

    const KdcOrderFile& file_;
    const Settings settings_;
    std::mutex mutex_;  // guards suspected_, the round counts, waiters_ and the waits on stopping_
    std::condition_variable wake_;
    std::condition_variable settled_;  // a round ended, or a waiter left
    bool suspected_ = false;
    std::uint64_t rounds_started_ = 0;  // rounds of asking every KDC
    std::uint64_t rounds_done_ = 0;     // of those, ordered
    unsigned waiters_ = 0;              // in suspect_installed_and_wait: the destructor waits for them
    std::atomic<bool> stopping_{false};
    // The watch's thread's own; changed under installed_mutex, which a newer watch reads them under:
    std::vector<std::string> hung_;     // silent when last asked
    std::vector<std::string> written_;  // the order in the file (empty: krb5.conf's)
    std::thread thread_;
};

}  // namespace easgate::kerberos
