#pragma once

// krb5 asks a realm's KDCs in krb5.conf's order and, in every exchange, waits 10 s for one that
// accepted the connection and never answers (a hung DC) before it asks the next. easgate puts a
// file of its own before the admin's krb5.conf in KRB5_CONFIG: empty while every KDC answers, and
// while one hangs, the realm's section with its KDCs in another order, hung ones last (final: krb5
// then reads nothing of that realm from the admin's file, whose other settings are copied). krb5
// sees a change to the file within a second, in every context.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace easgate::kerberos {

// A `kdc` entry of krb5.conf: host, host:port, [v6]:port, with an optional tcp/ or udp/ before
// them (easgate asks over TCP: AD's tickets outgrow UDP); http(s):// is an MS-KKDCP proxy.
struct KdcAddress {
    std::string host;
    std::uint16_t port = 88;
    std::string unsupported;  // why it can't be asked over TCP directly ("" when it can)
};
KdcAddress parse_kdc(std::string entry);

// The kdc entries of realm, in order, from the krb5 configuration files in profile_path
// (colon-separated); "" reads what krb5 reads (KRB5_CONFIG, else its default).
std::vector<std::string> realm_kdcs(const std::string& realm, const std::string& profile_path = "");

// easgate's file before the admin's in KRB5_CONFIG, for as long as the process runs.
class KdcOrderFile {
public:
    // Makes the file (empty) in a directory of its own under $RUNTIME_DIRECTORY (systemd's), else
    // $TMPDIR, else /tmp (the first that takes it), and sets KRB5_CONFIG to it and admin_krb5_conf ("":
    // KRB5_CONFIG as it was, else /etc/krb5.conf), before any thread reads the environment. Removes the
    // directories there that easgate processes which did not exit (SIGKILL) left. Throws std::runtime_error
    // when it can't make its own.
    explicit KdcOrderFile(const std::string& admin_krb5_conf);
    KdcOrderFile(const KdcOrderFile&) = delete;
    KdcOrderFile& operator=(const KdcOrderFile&) = delete;
    ~KdcOrderFile();  // removes the file and its directory, and puts KRB5_CONFIG back

    const std::string& admin_krb5_conf() const { return admin_; }

    // The file of this process (and the admin's configuration), or null outside `easgate run`.
    static const KdcOrderFile* installed();

    // Lists realm's KDCs in this order; an empty list empties the file (krb5.conf's order again).
    void write(const std::string& realm, const std::vector<std::string>& kdcs) const;

private:
    std::string directory_;
    std::string path_;
    std::string admin_;
    std::optional<std::string> environment_was_;  // KRB5_CONFIG before
    int lock_fd_ = -1;                            // held while the process runs: the directory is in use
};

}  // namespace easgate::kerberos
