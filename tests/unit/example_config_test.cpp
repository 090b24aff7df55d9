// config/easgate.example.yaml is where an admin starts: as shipped, and with every key it shows
// commented out taken in (a section's keys at their documented values), it must load. Its prose
// never starts a line with "word:", so that a commented-out key is told from a comment.
#include <gtest/gtest.h>
#include <krb5/krb5.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "child_process.hpp"
#include "easgate/config/config.hpp"
#include "test_pki.hpp"

namespace easgate::config {
namespace {

using easgate::testing::make_temp_dir;
using easgate::testing::read_file;
using easgate::testing::write_file;

// "#   timeout: 5s   # why" becomes "  timeout: 5s   # why" (indented comments too, for keys of a
// section); a comment in prose stays one.
std::string uncomment_keys(const std::string& yaml) {
    static const std::regex commented_key(R"(^(\s*)# ?(\s*(- )?[a-z0-9_]+:(\s.*)?)$)");
    std::istringstream lines(yaml);
    std::string out;
    std::smatch key;
    for (std::string line; std::getline(lines, line);)
        out += (std::regex_match(line, key, commented_key) ? key[1].str() + key[2].str() : line) + "\n";
    return out;
}

// A keytab holding a key for principal, as an export for easgate's account would.
void write_keytab(const std::filesystem::path& path, const std::string& principal) {
    krb5_context context = nullptr;
    ASSERT_EQ(krb5_init_context(&context), 0);
    krb5_keytab keytab = nullptr;
    ASSERT_EQ(krb5_kt_resolve(context, ("FILE:" + path.string()).c_str(), &keytab), 0);
    krb5_keytab_entry entry{};
    ASSERT_EQ(krb5_parse_name(context, principal.c_str(), &entry.principal), 0);
    entry.vno = 2;
    ASSERT_EQ(krb5_c_make_random_key(context, ENCTYPE_AES256_CTS_HMAC_SHA1_96, &entry.key), 0);
    EXPECT_EQ(krb5_kt_add_entry(context, keytab, &entry), 0);
    krb5_free_keyblock_contents(context, &entry.key);
    krb5_free_principal(context, entry.principal);
    krb5_kt_close(context, keytab);
    krb5_free_context(context);
}

class ExampleConfigTest : public ::testing::Test {
protected:
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // The example with its /etc/easgate/ files made in a scratch directory, loaded.
    Config load_example(const std::string& yaml) {
        static const std::regex file(R"(/etc/easgate/([A-Za-z0-9_.-]+))");
        std::set<std::string> names;
        for (auto it = std::sregex_iterator(yaml.begin(), yaml.end(), file); it != std::sregex_iterator();
             ++it)
            names.insert((*it)[1].str());
        for (const auto& name : names) {
            if (name.ends_with(".keytab")) {
                write_keytab(dir_ / name, principal_in(yaml));
            } else {
                write_file(dir_ / name, "placeholder\n");
            }
        }
        const auto config = dir_ / "easgate.yaml";
        write_file(config, std::regex_replace(yaml, std::regex("/etc/easgate/"), dir_.string() + "/"));
        return load_config(config);
    }

    static std::string principal_in(const std::string& yaml) {
        std::smatch found;
        return std::regex_search(yaml, found, std::regex(R"(principal: (\S+@\S+))")) ? found[1].str() : "";
    }

    std::filesystem::path dir_ = make_temp_dir("example-config");
    std::string example_ =
        read_file(std::filesystem::path(EASGATE_SOURCE_DIR) / "config/easgate.example.yaml");
};

TEST_F(ExampleConfigTest, LoadsAsShipped) {
    const auto config = load_example(example_);
    EXPECT_FALSE(config.directory);
    EXPECT_FALSE(config.kerberos);
}

TEST_F(ExampleConfigTest, LoadsWithEveryKeyItShowsTakenIn) {
    const auto yaml = uncomment_keys(example_);
    ASSERT_NE(yaml, example_);
    Config config;
    try {
        config = load_example(yaml);
    } catch (const ConfigError& e) {
        FAIL() << e.what() << "\n" << yaml;
    }
    // A key of each section commented out in the example, and the last of some, are in.
    ASSERT_TRUE(config.directory && config.kerberos && config.policy);
    EXPECT_NE(config.directory->require_group, "");
    EXPECT_NE(config.kerberos->krb5_conf, "");
    EXPECT_EQ(config.policy->rules.size(), 2u);
    ASSERT_FALSE(config.listeners.empty());
    ASSERT_TRUE(config.listeners[0].client_auth.crl_refresh);
    EXPECT_NE(config.listeners[0].client_auth.crl_refresh->cache_dir, "");
    EXPECT_TRUE(config.listeners[0].proxy_protocol);
    EXPECT_NE(config.logging.access_log, "");
}

}  // namespace
}  // namespace easgate::config
