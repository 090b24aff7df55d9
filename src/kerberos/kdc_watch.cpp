#include "easgate/kerberos/kdc_watch.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <future>

#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/kerberos/as_exchange.hpp"

namespace easgate::kerberos {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The AS-REQ a login of principal starts with (no preauthentication yet): any KDC of the realm
// answers it at once, with PREAUTH_REQUIRED, so an answer says the KDC serves.
std::string as_request(const std::string& principal) {
    const Krb5Context context;
    AsExchange login(context, principal);
    return login.next("").value_or("");
}

// A KDC answers an AS-REQ without preauthentication in milliseconds: one that takes longer than this
// (or kerberos.timeout, when shorter) is asked last while others answer sooner.
constexpr std::chrono::milliseconds longest_probe{2000};

std::chrono::milliseconds probe_timeout(std::chrono::milliseconds timeout) {
    return std::min(timeout, longest_probe);
}

// A round asks every KDC at once: its probe time and the time to order them.
std::chrono::milliseconds longest_verdict_wait(std::chrono::milliseconds timeout) {
    return probe_timeout(timeout) + std::chrono::seconds(1);
}
static_assert(longest_probe + std::chrono::seconds(1) <= KdcWatch::longest_wait);

// Every watch alive, the newest last: that one is installed (writes the file, is suspected). A
// reload that fails after building its watch destroys it, and the running one is installed again.
std::mutex installed_mutex;
std::vector<KdcWatch*> live_watches;  // guarded by installed_mutex

KdcWatch* installed_watch() { return live_watches.empty() ? nullptr : live_watches.back(); }

// krb5.conf's order with the KDCs to ask last moved last; empty (krb5.conf's own order) for none.
std::vector<std::string> order_for(const std::vector<std::string>& kdcs,
                                   const std::vector<std::string>& last) {
    if (last.empty()) return {};
    std::vector<std::string> order;
    for (const auto& kdc : kdcs)
        if (std::find(last.begin(), last.end(), kdc) == last.end()) order.push_back(kdc);
    order.insert(order.end(), last.begin(), last.end());
    return order;
}

}  // namespace

KdcAnswer probe_kdc(const KdcAddress& kdc, const std::string& request, std::chrono::milliseconds timeout,
                    const std::atomic<bool>& stop) {
    asio::io_context io;
    tcp::resolver resolver(io);
    tcp::socket socket(io);
    const std::string message = tcp_frame(request);
    std::array<unsigned char, 4> reply{};
    KdcAnswer answer = KdcAnswer::silent;
    bool done = false;
    const auto finish = [&](KdcAnswer result) {
        answer = result;
        done = true;
    };
    resolver.async_resolve(kdc.host, std::to_string(kdc.port), [&](auto error, const auto& addresses) {
        if (error) return finish(KdcAnswer::unreachable);
        asio::async_connect(socket, addresses, [&](auto error, const auto&) {
            if (error) return finish(KdcAnswer::unreachable);
            asio::async_write(socket, asio::buffer(message), [&](auto error, std::size_t) {
                if (error) return finish(KdcAnswer::unreachable);
                asio::async_read(socket, asio::buffer(reply), [&](auto error, std::size_t) {
                    finish(error ? KdcAnswer::unreachable : KdcAnswer::answered);
                });
            });
        });
    });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && !stop && std::chrono::steady_clock::now() < deadline)
        io.run_for(std::chrono::milliseconds(100));
    return done ? answer : KdcAnswer::silent;
}

KdcWatch::KdcWatch(const KdcOrderFile& file, Settings settings)
    : file_(file), settings_(std::move(settings)) {
    {
        // The file is the newest watch's: one of a configuration before a reload writes it no more.
        // It hands over what it found hung (the new one asks again at the next recheck), so a reload
        // doesn't put a hung KDC first again; one of another realm leaves an order of no use.
        const std::lock_guard lock(installed_mutex);
        if (const KdcWatch* before = installed_watch();
            before != nullptr && before->settings_.realm == settings_.realm) {
            hung_ = before->hung_;
            written_ = before->written_;
        } else {
            file_.write(settings_.realm, {});
        }
        if (settings_.asked_last != nullptr) *settings_.asked_last = written_.empty() ? 0 : hung_.size();
        live_watches.push_back(this);
    }
    thread_ = std::thread([this] { run(); });  // after hung_ is set: run() reads it
}

KdcWatch::~KdcWatch() {
    {
        const std::lock_guard lock(installed_mutex);
        const bool was_installed = installed_watch() == this;
        std::erase(live_watches, this);
        // The watch before it (a failed reload's watch goes first) writes the file again: its order,
        // kept up while it was not installed, and its realm's.
        if (KdcWatch* const running = installed_watch(); was_installed && running != nullptr)
            running->file_.write(running->settings_.realm, running->written_);
    }
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    settled_.notify_all();
    thread_.join();
    std::unique_lock lock(mutex_);
    settled_.wait(lock, [this] { return waiters_ == 0; });
}

void KdcWatch::suspect() {
    {
        std::lock_guard lock(mutex_);
        suspected_ = true;
    }
    wake_.notify_all();
}

void KdcWatch::suspect_installed() {
    const std::lock_guard lock(installed_mutex);
    if (KdcWatch* const watch = installed_watch(); watch != nullptr) watch->suspect();
}

void KdcWatch::suspect_installed_and_wait() {
    std::unique_lock installed(installed_mutex);
    KdcWatch* const watch = installed_watch();
    if (watch == nullptr) return;
    // installed_mutex, then mutex_, as in suspect_installed(); the watch can't be destroyed while it
    // counts this waiter, so installed_mutex (which the watch's ordering takes) is let go.
    std::unique_lock lock(watch->mutex_);
    watch->suspected_ = true;
    watch->wake_.notify_all();
    // A KDC already asked last: the order krb5 reads has the hung one last, and the check this asks
    // for is not worth a wait (each timeout while a DC hangs would add one).
    if (!watch->written_.empty()) return;
    installed.unlock();
    ++watch->waiters_;
    const std::uint64_t round = watch->rounds_started_ + 1;  // the next one sees this suspicion
    watch->settled_.wait_for(lock, longest_verdict_wait(watch->settings_.timeout),
                             [&] { return watch->stopping_ || watch->rounds_done_ >= round; });
    --watch->waiters_;
    watch->settled_.notify_all();  // under the lock: once it is let go, the watch may be gone
}

std::vector<std::string> KdcWatch::silent_kdcs(const std::vector<std::string>& kdcs) const {
    const auto request = as_request(settings_.principal);
    std::vector<std::future<KdcAnswer>> answers;
    for (const auto& kdc : kdcs) {
        answers.push_back(std::async(std::launch::async, [&, address = parse_kdc(kdc)] {
            if (!address.unsupported.empty() || request.empty()) return KdcAnswer::answered;  // not judged
            return probe_kdc(address, request, probe_timeout(settings_.timeout), stopping_);
        }));
    }
    std::vector<std::string> silent;
    for (std::size_t i = 0; i < kdcs.size(); ++i)
        if (answers[i].get() == KdcAnswer::silent) silent.push_back(kdcs[i]);
    return silent;
}

void KdcWatch::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        // While a KDC is hung it is asked again every recheck, so that it comes back first once it
        // answers; otherwise only a timeout on the request path makes the watch ask.
        const auto asked = [this] { return stopping_ || suspected_; };
        if (hung_.empty())
            wake_.wait(lock, asked);
        else
            wake_.wait_for(lock, settings_.recheck, asked);
        if (stopping_) break;
        suspected_ = false;
        ++rounds_started_;
        lock.unlock();
        const auto kdcs = realm_kdcs(settings_.realm, file_.admin_krb5_conf());
        auto silent = silent_kdcs(kdcs);
        if (!stopping_) order(kdcs, std::move(silent));
        lock.lock();
        ++rounds_done_;
        settled_.notify_all();
    }
}

// On the watch's thread, without mutex_ (suspect_installed() takes installed_mutex, then mutex_).
void KdcWatch::order(const std::vector<std::string>& kdcs, std::vector<std::string> silent) {
    const auto absent = [](const std::vector<std::string>& from) {
        return [&from](const std::string& kdc) {
            return std::find(from.begin(), from.end(), kdc) == from.end();
        };
    };
    const bool none_answers = !silent.empty() && silent.size() == kdcs.size();
    const std::vector<std::string> asked_last = none_answers ? std::vector<std::string>{} : silent;
    const std::vector<std::string> were_last = written_.empty() ? std::vector<std::string>{} : hung_;
    for (const auto& kdc : asked_last)
        if (absent(were_last)(kdc))
            spdlog::warn(
                "kerberos: KDC {} of {} accepts connections and did not answer easgate's check within {}: "
                "krb5 asks it last until it answers (it would wait 10 s for it in every KDC exchange); see "
                "to the KDC service of that DC",
                kdc, settings_.realm, config::format_duration(probe_timeout(settings_.timeout)));
    for (const auto& kdc : were_last)
        if (absent(silent)(kdc))
            spdlog::info("kerberos: KDC {} of {} answers again: krb5 asks the KDCs in {}'s order", kdc,
                         settings_.realm, file_.admin_krb5_conf());
    if (none_answers && silent != hung_)
        spdlog::warn(
            "kerberos: no KDC of {} answered easgate's check within {} ({}): krb5 asks them in {}'s order; "
            "users new to easgate get 503s until one answers",
            settings_.realm, config::format_duration(probe_timeout(settings_.timeout)), common::join(silent),
            file_.admin_krb5_conf());
    // Rewritten when the admin's list changed too: the file's list hides krb5.conf's.
    auto order = order_for(kdcs, asked_last);
    if (settings_.asked_last != nullptr) *settings_.asked_last = asked_last.size();
    // hung_ and written_ change under installed_mutex: a watch made by a reload copies them.
    const std::lock_guard installed(installed_mutex);
    hung_ = std::move(silent);
    if (order == written_) return;
    if (installed_watch() == this) file_.write(settings_.realm, order);
    written_ = std::move(order);
}

}  // namespace easgate::kerberos
