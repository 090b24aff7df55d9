// A hung KDC (it accepts connections and never answers) is asked last, as krb5 itself reads the
// order: through KRB5_CONFIG, easgate's file before the admin's krb5.conf. KDCs here are loopback
// sockets: one that answers every Kerberos frame, one whose connections are never read.
#include "easgate/kerberos/kdc_watch.hpp"

#include <gtest/gtest.h>
#include <profile.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "child_process.hpp"
#include "test_pki.hpp"

namespace easgate::kerberos {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Listens on a loopback port; answers each framed request with a framed reply once answering.
class FakeKdc {
public:
    FakeKdc() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {}
    ~FakeKdc() {
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocking accept
        if (thread_.joinable()) thread_.join();
    }
    std::string entry() const { return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
    // Until called, connections wait in the listen queue: accepted by the kernel, never read.
    void answer() {
        thread_ = std::thread([this] {
            for (;;) {
                boost::system::error_code error;
                tcp::socket socket(io_);
                acceptor_.accept(socket, error);
                if (error) return;
                std::array<unsigned char, 4> length{};
                asio::read(socket, asio::buffer(length), error);
                std::vector<unsigned char> request((length[2] << 8) | length[3]);
                asio::read(socket, asio::buffer(request), error);
                const std::array<unsigned char, 6> reply{0, 0, 0, 2, 0x7e, 0};  // a KRB-ERROR's start
                asio::write(socket, asio::buffer(reply), error);
            }
        });
    }

private:
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

class KdcWatchTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = testing::make_temp_dir("kdc-watch");
        admin_ = (dir_ / "krb5.conf").string();
        write_admin({hung_.entry(), serving_.entry()});
        serving_.answer();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    void write_admin(const std::vector<std::string>& kdcs) const {
        std::string text = "[libdefaults]\n    default_realm = WATCH.TEST\n[realms]\n    WATCH.TEST = {\n";
        for (const auto& kdc : kdcs) text += "        kdc = " + kdc + "\n";
        text += "        admin_server = admin.watch.test\n";
        text += "        auth_to_local_names = {\n            svc = root\n        }\n    }\n";
        testing::write_file(admin_, text);
    }

    // What krb5 reads now, waited for up to 10 s (the watch works on a thread of its own).
    static bool becomes(const std::vector<std::string>& expected) {
        for (int i = 0; i < 100; ++i) {
            if (realm_kdcs("WATCH.TEST") == expected) return true;
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }

    // A setting of the realm as krb5 reads it (KRB5_CONFIG); inner: in a subsection of the realm.
    static std::string realm_setting(const std::string& name, const std::string& inner = "") {
        profile_t profile = nullptr;
        const char* path = std::getenv("KRB5_CONFIG");
        if (path == nullptr || profile_init_path(path, &profile) != 0) return "no profile";
        const char* names[] = {"realms", "WATCH.TEST", name.c_str(), inner.empty() ? nullptr : inner.c_str(),
                               nullptr};
        char** values = nullptr;
        std::string found = "none";
        if (profile_get_values(profile, names, &values) == 0) {
            found = values[0];
            profile_free_list(values);
        }
        profile_release(profile);
        return found;
    }

    KdcWatch::Settings settings() {
        return {.realm = "WATCH.TEST",
                .principal = "EASGATE$@WATCH.TEST",
                .timeout = 500ms,
                .recheck = 300ms,
                .asked_last = &asked_last_};
    }

    std::filesystem::path dir_;
    std::string admin_;
    FakeKdc hung_;
    FakeKdc serving_;
    std::atomic<std::uint64_t> asked_last_{0};
};

TEST_F(KdcWatchTest, TheOrderFileGoesBeforeTheAdminsKrb5ConfAndHidesOnlyItsKdcList) {
    const KdcOrderFile order(admin_);
    EXPECT_EQ(order.admin_krb5_conf(), admin_);
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{hung_.entry(), serving_.entry()}));
    order.write("WATCH.TEST", {serving_.entry(), hung_.entry()});
    EXPECT_TRUE(becomes({serving_.entry(), hung_.entry()}));
    EXPECT_EQ(realm_setting("admin_server"), "admin.watch.test") << "the realm's other settings are kept";
    EXPECT_EQ(realm_setting("auth_to_local_names", "svc"), "root");
    EXPECT_EQ(realm_kdcs("WATCH.TEST", admin_), (std::vector<std::string>{hung_.entry(), serving_.entry()}))
        << "the admin's file is left as it is";
    order.write("WATCH.TEST", {});
    EXPECT_TRUE(becomes({hung_.entry(), serving_.entry()}));
}

TEST_F(KdcWatchTest, TellsAnAnsweringKdcFromAHungOneAndAClosedPort) {
    const std::atomic<bool> stop{false};
    std::string request = "not really an AS-REQ";
    EXPECT_EQ(probe_kdc(parse_kdc(serving_.entry()), request, 2s, stop), KdcAnswer::answered);
    EXPECT_EQ(probe_kdc(parse_kdc(hung_.entry()), request, 300ms, stop), KdcAnswer::silent);
    EXPECT_EQ(probe_kdc(parse_kdc("127.0.0.1:1"), request, 2s, stop), KdcAnswer::unreachable);
}

TEST_F(KdcWatchTest, AHungKdcIsAskedLastUntilItAnswers) {
    const KdcOrderFile order(admin_);
    KdcWatch watch(order, settings());
    std::this_thread::sleep_for(700ms);
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{hung_.entry(), serving_.entry()}))
        << "nothing is asked before a KDC exchange timed out";

    watch.suspect();
    EXPECT_TRUE(becomes({serving_.entry(), hung_.entry()}));
    EXPECT_EQ(asked_last_, 1u);

    // The admin adds a KDC meanwhile: the order follows krb5.conf's new list at the next check.
    FakeKdc third;
    third.answer();
    write_admin({hung_.entry(), serving_.entry(), third.entry()});
    EXPECT_TRUE(becomes({serving_.entry(), third.entry(), hung_.entry()}));

    hung_.answer();
    EXPECT_TRUE(becomes({hung_.entry(), serving_.entry(), third.entry()})) << "krb5.conf's order again";
    EXPECT_EQ(asked_last_, 0u);
}

// A reload that changes the kerberos section makes a new watch: it keeps the hung KDC last (and asks
// it again), rather than putting it first until the next timeout; one of another realm empties it.
TEST_F(KdcWatchTest, AWatchMadeByAReloadKeepsTheHungKdcLast) {
    const KdcOrderFile order(admin_);
    auto before_reload = std::make_unique<KdcWatch>(order, settings());
    before_reload->suspect();
    ASSERT_TRUE(becomes({serving_.entry(), hung_.entry()}));

    std::atomic<std::uint64_t> asked_last_after{0};
    auto after_settings = settings();
    after_settings.asked_last = &asked_last_after;
    const KdcWatch after_reload(order, after_settings);
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{serving_.entry(), hung_.entry()}));
    EXPECT_EQ(asked_last_after, 1u);
    before_reload.reset();
    std::this_thread::sleep_for(1s);  // the new watch asks again (every 300 ms here)
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{serving_.entry(), hung_.entry()}));
    EXPECT_EQ(asked_last_after, 1u);

    auto other_realm = settings();
    other_realm.realm = "OTHER.TEST";
    const KdcWatch of_another_realm(order, other_realm);
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{hung_.entry(), serving_.entry()}))
        << "krb5.conf's order for a realm the gateway no longer watches";
}

// A reload that builds a new watch and then fails (a bad upstream ca_file, say) destroys it: the
// running watch writes the file again, and goes on ordering the KDCs.
TEST_F(KdcWatchTest, AWatchOfAReloadThatFailedHandsTheFileBack) {
    const KdcOrderFile order(admin_);
    KdcWatch running(order, settings());
    running.suspect();
    ASSERT_TRUE(becomes({serving_.entry(), hung_.entry()}));

    auto other_realm = settings();
    other_realm.realm = "OTHER.TEST";
    other_realm.asked_last = nullptr;
    std::make_unique<KdcWatch>(order, other_realm).reset();
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{serving_.entry(), hung_.entry()}))
        << "the running watch's order is back";
    auto same_realm = settings();
    same_realm.asked_last = nullptr;
    std::make_unique<KdcWatch>(order, same_realm).reset();

    hung_.answer();
    EXPECT_TRUE(becomes({hung_.entry(), serving_.entry()})) << "the running watch still writes the file";
    EXPECT_EQ(asked_last_, 0u);
}

// The directory's failover waits for the verdict: its next GSSAPI bind then reads the new order.
TEST_F(KdcWatchTest, SuspectingAndWaitingReturnsOnceTheHungKdcIsAskedLast) {
    KdcWatch::suspect_installed_and_wait();  // no watch: nothing to wait for
    const KdcOrderFile order(admin_);
    const KdcWatch watch(order, settings());
    KdcWatch::suspect_installed_and_wait();
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{serving_.entry(), hung_.entry()}))
        << "already, without waiting for the file";
}

// A reload that drops the watch while a directory worker waits on it lets the worker go at once,
// not when its wait (here 3 s) would have ended.
TEST_F(KdcWatchTest, AWatchGoingAwayLetsItsWaitersGo) {
    const KdcOrderFile order(admin_);
    auto slow = settings();
    slow.timeout = 2s;  // the hung KDC is asked for 2 s
    auto watch = std::make_unique<KdcWatch>(order, slow);
    std::atomic<bool> returned{false};
    std::thread waiter([&] {
        KdcWatch::suspect_installed_and_wait();
        returned = true;
    });
    std::this_thread::sleep_for(100ms);
    const auto dropped = std::chrono::steady_clock::now();
    watch.reset();
    waiter.join();
    EXPECT_TRUE(returned);
    EXPECT_LT(std::chrono::steady_clock::now() - dropped, 1500ms) << "the waiter waited its wait out";
}

// Once a hung KDC is asked last, a timeout asks for a check but does not wait for it: each
// timeout while a DC hangs would otherwise add the check's time.
TEST_F(KdcWatchTest, WithAHungKdcAskedLastAlreadyNobodyWaits) {
    const KdcOrderFile order(admin_);
    auto slow = settings();
    slow.timeout = 2s;
    const KdcWatch watch(order, slow);
    KdcWatch::suspect_installed_and_wait();
    ASSERT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{serving_.entry(), hung_.entry()}));
    const auto asked = std::chrono::steady_clock::now();
    KdcWatch::suspect_installed_and_wait();
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 1500ms) << "waited for a check of 2 s";
}

TEST_F(KdcWatchTest, WhenEveryKdcIsHungKrb5ConfsOrderStays) {
    FakeKdc other_hung;
    write_admin({hung_.entry(), other_hung.entry()});
    const KdcOrderFile order(admin_);
    KdcWatch watch(order, settings());
    watch.suspect();
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(realm_kdcs("WATCH.TEST"), (std::vector<std::string>{hung_.entry(), other_hung.entry()}));
    EXPECT_EQ(asked_last_, 0u) << "none is asked last when none answers";
}

}  // namespace
}  // namespace easgate::kerberos
