// The fixture of the lab's `easgate doctor` tests: the configuration `easgate run` would have on the
// lab, with what a test changes, and directory changes undone at TearDown.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lab_administration.hpp"
#include "lab_environment.hpp"
#include "test_pki.hpp"

namespace easgate::testing {

using nlohmann::json;

struct DoctorRun {
    int exit_code = -1;
    json report;
    std::string output;  // for failure messages

    // The finding of area whose check contains `check`; null when there is none.
    json finding(const std::string& area, const std::string& check) const {
        for (const auto& f : report.value("checks", json::array()))
            if (f["area"] == area && f["check"].get<std::string>().find(check) != std::string::npos) return f;
        return nullptr;
    }
    std::string verdict(const std::string& area, const std::string& check) const {
        const auto f = finding(area, check);
        return f.is_null() ? "(no such check)" : f["verdict"].get<std::string>();
    }
    std::string text(const std::string& area, const std::string& check) const {
        const auto f = finding(area, check);
        return f.is_null() ? ""
                           : f["found"].get<std::string>() + "\nremedy: " + f["remedy"].get<std::string>();
    }
};

// What a test changes in the lab's configuration.
struct DoctorConfig {
    std::string principal_var = "LAB_EASGATE_PRINCIPAL";  // easgate's account, from lab.env
    std::string keytab_var = "LAB_EASGATE_KEYTAB";
    std::string keytab_file;                        // a keytab the test made, in place of keytab_var's
    std::string backend_var = "LAB_MAIL_BASE_URL";  // the Exchange stand-in
    std::string upstream_server;                    // replaces it when set
    std::string upstream;                           // more YAML lines in the upstream's entry
    std::string directory_uris;                     // dc1's LDAPS URL when empty
    std::string krb5_conf;                          // the lab's when empty
    std::string kerberos;                           // more YAML lines in the kerberos section
    std::string sections;                           // more top-level sections (policy:)
    std::string trusted_ca_file;                    // the lab's CA file when empty
    std::string client_auth;                        // more YAML lines in listeners[0].client_auth
};

class DoctorTest : public ::testing::Test {
protected:
    void SetUp() override { work_ = make_temp_dir("doctor"); }

    void TearDown() override {
        for (auto undo = undo_.rbegin(); undo != undo_.rend(); ++undo) (*undo)();
        std::filesystem::remove_all(work_);
    }

    static const LabEnvironment& lab() { return LabEnvironment::get(); }

    // The configuration `easgate run` would have on the lab, with what a test changes.
    std::string write_config(const DoctorConfig& options = {}) const {
        const std::string upstream = lab().upstream_yaml("exchange", options.backend_var, "per_request",
                                                         options.upstream, options.upstream_server);
        std::string kerberos = lab().kerberos_yaml(options.principal_var, options.keytab_var,
                                                   options.krb5_conf, options.kerberos);
        if (!options.keytab_file.empty())
            kerberos.replace(kerberos.find(lab().at(options.keytab_var)), lab().at(options.keytab_var).size(),
                             options.keytab_file);
        const std::string yaml =
            "listeners:\n" +
            lab().listener_yaml(free_tcp_port(), options.trusted_ca_file.empty() ? lab().at("LAB_CA_FILE")
                                                                                 : options.trusted_ca_file) +
            options.client_auth + "upstreams:\n" + upstream + lab().directory_yaml(options.directory_uris) +
            kerberos + options.sections;
        const auto path = work_ / "easgate.yaml";
        write_file(path, yaml);
        return path.string();
    }

    static DoctorRun doctor(const std::string& config, const std::vector<std::string>& extra = {},
                            const std::vector<std::string>& prefix = {}) {
        std::vector<std::string> argv = prefix;
        argv.insert(argv.end(), {EASGATE_BINARY, "doctor", "--config", config, "--json"});
        argv.insert(argv.end(), extra.begin(), extra.end());
        const auto result = run_command(argv, std::chrono::seconds(120));
        DoctorRun run{result.exit_code, json::parse(result.out, nullptr, false), result.out + result.err};
        EXPECT_TRUE(run.report.is_object()) << run.output;
        return run;
    }

    // Applies a directory change now and its undo at TearDown (registered first, so that a change
    // that half-happened is undone too).
    void change_directory(const std::string& ldif, const std::string& undo_ldif,
                          bool past_samba_checks = false) {
        const auto apply = [past_samba_checks](const std::string& change) {
            return past_samba_checks ? modify_domain_partition(change)
                                     : as_administrator({"ldapmodify"}, change);
        };
        undo_.push_back([apply, undo_ldif] {
            const auto undone = apply(undo_ldif);
            EXPECT_EQ(undone.exit_code, 0) << "the lab is left changed: " << undo_ldif << undone.err;
        });
        const auto changed = apply(ldif);
        ASSERT_EQ(changed.exit_code, 0) << changed.err << changed.out;
    }

    static std::string computer_dn(const std::string& name) {
        return "CN=" + name + ",CN=Computers," + lab().at("LAB_BASE_DN");
    }
    static std::string modify(const std::string& dn, const std::string& operation,
                              const std::string& attribute, const std::string& value) {
        return "dn: " + dn + "\nchangetype: modify\n" + operation + ": " + attribute + "\n" + attribute +
               ": " + value + "\n\n";
    }

    std::filesystem::path work_;
    std::vector<std::function<void()>> undo_;
};

}  // namespace easgate::testing
