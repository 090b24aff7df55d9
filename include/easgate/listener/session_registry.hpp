#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "easgate/common/cause_counters.hpp"
#include "easgate/listener/certificate_refusal.hpp"
#include "easgate/listener/proxy_header.hpp"
#include "easgate/listener/slot_counts.hpp"

namespace easgate::listener {

// A device connection as a shutdown sees it.
class DrainableSession {
public:
    virtual ~DrainableSession() = default;
    // Called from any thread: the session finishes on its own thread what it is doing, answers a
    // held long poll early, and then closes.
    virtual void drain() = 0;
    // Called from any thread, once the registry has picked it to make room (reclaim_oldest): the
    // session closes at once, on its own thread, without waiting for the device.
    virtual void reclaim() = 0;
};

// The open device connections of the process, so that a shutdown reaches every one of them, and
// so that at limits.max_connections one doing no work can make room for a new one. Touched when a
// connection opens and closes, and when it starts and stops waiting for a request.
class SessionRegistry {
    using Clock = std::chrono::steady_clock;
    // What a connection is doing: opening from its accept until its first request's header is in
    // (a PROXY header, its TLS handshake, that header), busy with a request from then until its
    // answer is written, then kept alive until its next request's header is in.
    enum class Use : unsigned char { opening, kept_alive, busy };
    struct Registered {
        std::weak_ptr<DrainableSession> session;
        Clock::time_point idle_since;  // opening: its accept; kept alive: the end of its last answer
        Use use = Use::opening;
        bool reclaimed = false;  // picked to make room: it never serves another request
    };

public:
    using Entry = std::list<Registered>::iterator;

    Entry add(std::weak_ptr<DrainableSession> session, Clock::time_point now = Clock::now());
    void remove(Entry entry);
    std::size_t size() const { return open_.load(std::memory_order_relaxed); }
    // Its answer written, waiting for its next request (kept alive).
    void mark_idle(Entry entry, Clock::time_point now = Clock::now());
    // A request's header is in. False when the connection was reclaimed meanwhile: it must close.
    bool mark_busy(Entry entry);

    // limits.max_connections: a connection accepted beyond it is closed at once, and counted,
    // unless one idle for at least reclaim_after makes room (reclaim_oldest).
    bool full(std::size_t max_connections) const { return size() >= max_connections; }
    void count_refusal() { refused_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

    // A connection doing no work (as nginx's reusable connections), idle for reclaim_after or more,
    // marked so that it serves no other request; null when there is none. The one opening longest,
    // else the one kept alive longest: a device that got in keeps its connection while others have
    // not shown a certificate and a request yet (a flood of connections that never get that far
    // takes the place of its own oldest). Its reclaim() is the caller's to call, outside the
    // registry's lock. A connection a request is using (a held Ping among them) is never picked: a
    // newer connection is not worth more than the work on an older one; and an opening one younger
    // than reclaim_after may be a phone on a slow network still at its handshake.
    static constexpr std::chrono::seconds reclaim_after{1};
    struct Reclaimed {
        std::shared_ptr<DrainableSession> session;
        Clock::duration idle_for{};
    };
    Reclaimed reclaim_oldest(Clock::time_point now = Clock::now());
    std::uint64_t reclaimed() const { return reclaimed_.load(std::memory_order_relaxed); }

    // limits.max_connections_per_user: the connections each user holds open, from the first request
    // admitted on it to its close, by a key the session makes (the account's objectSid or DN, else
    // the certificate's name, in lower case). False, and counted, when user already holds max (0: no
    // limit, but counted all the same, so that a reload setting one finds the connections open).
    bool take_user_slot(const std::string& user, unsigned max);
    void give_user_slot(const std::string& user) { per_user_.give(user); }
    std::uint64_t over_user_limit() const { return over_user_limit_.load(std::memory_order_relaxed); }

    // limits.max_opening_per_address: the connections from each source (common::source_key) still
    // opening: in their TLS handshake or before their first request's header, not yet doing any
    // work. False, and counted, when source holds max already (0: no limit).
    bool take_opening_slot(const std::string& source, unsigned max);
    void give_opening_slot(const std::string& source) { opening_.give(source); }
    std::size_t opening() const { return opening_.held(); }
    std::uint64_t over_address_limit() const { return over_address_limit_.load(std::memory_order_relaxed); }

    // Connections a proxy_protocol listener closed before TLS, by cause (proxy_refusal_causes).
    void count_proxy_refusal(std::string_view cause) { proxy_refused_.count(cause); }
    std::uint64_t proxy_refusals(std::string_view cause) const { return proxy_refused_.value(cause); }

    // Device certificates refused in the handshake or when a resumed session was checked again, by
    // cause (certificate_refusal_causes).
    void count_certificate_refusal(std::string_view cause) { certificate_refused_.count(cause); }
    std::uint64_t certificate_refusals(std::string_view cause) const {
        return certificate_refused_.value(cause);
    }

    // Device TLS handshakes that succeeded, and those of them that resumed a session.
    void count_handshake(bool resumed) {
        handshakes_.fetch_add(1, std::memory_order_relaxed);
        if (resumed) resumed_.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t handshakes() const { return handshakes_.load(std::memory_order_relaxed); }
    std::uint64_t resumed_handshakes() const { return resumed_.load(std::memory_order_relaxed); }

    // From now on every session, open or opening, drains.
    void drain_all();
    bool draining() const { return draining_.load(std::memory_order_acquire); }

private:
    mutable std::mutex mutex_;
    // Every open connection is in the list of its Use, each oldest first (a connection joins at the
    // end). Moving one between them is a splice: no allocation, and its Entry stays valid.
    std::array<std::list<Registered>, 3> by_use_;
    void move_to(Entry entry, Use use);
    std::atomic<bool> draining_{false};
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> reclaimed_{0};
    std::atomic<std::uint64_t> handshakes_{0};
    std::atomic<std::uint64_t> resumed_{0};
    common::CauseCounters<proxy_refusal_causes.size()> proxy_refused_{proxy_refusal_causes};
    common::CauseCounters<certificate_refusal_causes.size()> certificate_refused_{certificate_refusal_causes};
    SlotCounts per_user_;
    std::atomic<std::uint64_t> over_user_limit_{0};
    SlotCounts opening_;
    std::atomic<std::uint64_t> over_address_limit_{0};
};

}  // namespace easgate::listener
