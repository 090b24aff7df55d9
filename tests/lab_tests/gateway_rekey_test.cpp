// The account with Exchange's SPN gets a new password (an alternate service account rolled over,
// a computer password reset) while easgate holds tickets issued with the old key.

#include <filesystem>

#include "gateway_delegation_fixture.hpp"

namespace easgate::testing {
namespace {

// Sets the password of MAIL$ (the account with HTTP/mail.example.test) and hands the stand-in a
// keytab with only the new keys, as a rollover leaves Exchange; the lab's own password is put
// back at the end, whatever the test did.
class ExchangeKeyRollover {
public:
    ExchangeKeyRollover() = default;
    ExchangeKeyRollover(const ExchangeKeyRollover&) = delete;
    ExchangeKeyRollover& operator=(const ExchangeKeyRollover&) = delete;
    ~ExchangeKeyRollover() {
        if (rolled_) roll_to(LabEnvironment::get().at("LAB_SERVICE_PASSWORD"));
    }

    // Empty when it worked, else what failed.
    std::string roll_to(const std::string& password) {
        const auto& lab = LabEnvironment::get();
        const std::string samba = lab.at("LAB_DIR") + "/samba";
        rolled_ = true;
        const auto set =
            run_command({"samba-tool", "user", "setpassword", "MAIL$", "--newpassword=" + password, "-s",
                         samba + "/etc/smb.conf", "-H", samba + "/private/sam.ldb"});
        if (set.exit_code != 0) return "setpassword: " + set.out + set.err;
        const auto dir = make_temp_dir("rekey");
        const auto keytab = dir / "mail.keytab";
        const auto exported =
            run_command({"samba-tool", "domain", "exportkeytab", keytab.string(),
                         "--principal=" + lab.at("LAB_MAIL_SPN"), "-s", samba + "/etc/smb.conf"});
        if (exported.exit_code != 0) return "exportkeytab: " + exported.out + exported.err;
        // Apache's workers (www-data) read it; replaced in one step, as an admin's ktpass would.
        const auto readable = run_command(
            {"sh", "-c",
             "chgrp www-data '" + keytab.string() + "' 2>/dev/null; chmod 640 '" + keytab.string() + "'"});
        if (readable.exit_code != 0) return "chmod: " + readable.err;
        std::filesystem::rename(keytab, lab.at("LAB_MAIL_KEYTAB"));
        std::filesystem::remove_all(dir);
        return {};
    }

private:
    bool rolled_ = false;
};

// Tickets cached before the rollover are refused by Exchange (401): easgate drops each, gets a
// new one from the KDC and sends the request again, so the device sees 200, not hours of 401 until
// the cached ticket would have been refreshed. A held long poll (here bob's empty Ping) keeps
// nothing to send again: the device is asked to come back (503, Retry-After), and then passes.
TEST_F(GatewayDelegationTest, TicketsExchangeNoLongerAcceptsAreRenewed) {
    start_gateway();
    const std::filesystem::path certs = lab().at("LAB_CLIENT_CERT_DIR");
    const auto device = [&](const std::string& user, const std::string& query,
                            std::vector<std::string> curl) {
        curl.insert(curl.end(), {"--include", "--silent"});
        return curl_as_device(url(query), lab().at("LAB_CA_FILE"), certs / (user + ".pem"),
                              certs / (user + ".key"), std::move(curl));
    };
    for (const std::string user : {"alice", "bob"}) {  // tickets cached with the old key
        const auto before = as_user(user);
        ASSERT_EQ(reports(before).size(), 1u) << before.err << before.out;
    }

    ExchangeKeyRollover rollover;
    ASSERT_EQ(rollover.roll_to("Rolled-Over-Passw0rd-2468013579"), "");

    const auto upload = device("alice", "Cmd=FolderSync&User=alice", {"--data-binary", "folder-sync-body"});
    EXPECT_NE(upload.out.find("HTTP/1.1 200 "), std::string::npos) << upload.out;
    EXPECT_NE(upload.out.find("\"body_length\": 16"), std::string::npos) << upload.out;
    EXPECT_NE(upload.out.find("\"user\": \"alice@EXAMPLE.TEST\""), std::string::npos) << upload.out;

    const auto held = device("bob", "Cmd=Ping&User=bob", {"--data-binary", ""});
    EXPECT_NE(held.out.find("HTTP/1.1 503 "), std::string::npos) << held.out;
    EXPECT_NE(held.out.find("Retry-After: "), std::string::npos) << held.out;
    const auto again = device("bob", "Cmd=Ping&User=bob", {"--data-binary", ""});
    EXPECT_NE(again.out.find("\"user\": \"bob@EXAMPLE.TEST\""), std::string::npos) << again.out;

    const auto log = gateway_->log();
    EXPECT_EQ(count_of(log, "refused the Kerberos ticket easgate had for"), 2u) << log;
    EXPECT_EQ(count_of(log, "obtained a ticket for alice@EXAMPLE.TEST"), 2u) << log;
    EXPECT_EQ(
        count_of(log, "reason=\"upstream https://mail.example.test:8443 refused the user's Kerberos ticket"),
        1u)
        << log;
    const auto metrics =
        run_command({"curl", "--silent", "--show-error", gateway_->admin_url() + "/metrics"});
    EXPECT_NE(metrics.out.find("\neasgate_delegation_renewals_total 2\n"), std::string::npos) << metrics.out;
    EXPECT_NE(metrics.out.find("\neasgate_kdc_s4u2self_total 4\n"), std::string::npos) << metrics.out;
}

}  // namespace
}  // namespace easgate::testing
