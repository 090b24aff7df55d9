#pragma once

// A scratch directory with the files a configuration points at, and a valid configuration to
// break one thing in, for the configuration tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "child_process.hpp"
#include "easgate/config/config.hpp"
#include "test_pki.hpp"

namespace easgate::config {

using easgate::testing::make_temp_dir;
using easgate::testing::write_file;

// Configuration files that point at files which exist, so each test breaks exactly one thing.
class ConfigTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = make_temp_dir("config");
        for (const char* name : {"gateway.pem", "gateway.key", "ca.pem", "ca.crl", "exchange-ca.pem",
                                 "easgate.keytab", "ldap-password"}) {
            write_file(dir_ / name, "placeholder\n");
        }
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string path(const char* name) const { return (dir_ / name).string(); }

    // A complete, valid configuration; `extra` is appended at the top level.
    std::string valid(const std::string& listener_extra = "", const std::string& extra = "") const {
        return "listeners:\n"
               "  - address: 127.0.0.1\n"
               "    port: 8443\n"
               "    certificate: " +
               path("gateway.pem") +
               "\n"
               "    private_key: " +
               path("gateway.key") +
               "\n"
               "    client_auth:\n"
               "      trusted_ca_file: " +
               path("ca.pem") +
               "\n"
               "      crl_files: [" +
               path("ca.crl") + "]\n" + listener_extra +
               "upstreams:\n"
               "  - name: exchange\n"
               "    servers: [https://mail.corp.example.com]\n"
               "    ca_file: " +
               path("exchange-ca.pem") +
               "\n"
               "    service_principal: HTTP/mail.corp.example.com\n" +
               extra;
    }

    Config load(const std::string& text) {
        write_file(dir_ / "easgate.yaml", text);
        return load_config(dir_ / "easgate.yaml");
    }

    // The exact error message, or "" when the configuration loaded.
    std::string error_of(const std::string& text) {
        try {
            load(text);
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "";
    }

    std::filesystem::path dir_;
};

}  // namespace easgate::config
