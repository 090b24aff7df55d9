#include "easgate/config/config.hpp"

#include <gtest/gtest.h>

#include "config_fixture.hpp"

namespace easgate::config {
namespace {

TEST_F(ConfigTest, FillsDefaultsForEverythingNotGiven) {
    const auto config = load(valid());
    ASSERT_EQ(config.listeners.size(), 1u);
    const auto& listener = config.listeners[0];
    EXPECT_EQ(listener.port, 8443);
    EXPECT_EQ(listener.client_auth.mode, ClientAuthMode::required);
    EXPECT_TRUE(listener.client_auth.require_client_auth_eku);
    EXPECT_EQ(listener.tls_min_version, "1.2");
    EXPECT_EQ(config.upstreams[0].servers[0].host, "mail.corp.example.com");
    EXPECT_EQ(config.upstreams[0].servers[0].port, 443);
    EXPECT_EQ(config.limits.upload_read_ahead, 10ULL << 20);
    EXPECT_EQ(config.limits.max_request_body, 64ULL << 20);
    EXPECT_EQ(config.limits.max_header_bytes, 32ULL << 10);
    EXPECT_EQ(config.limits.header_timeout, std::chrono::seconds(15));
    EXPECT_EQ(config.limits.handshake_timeout, std::chrono::seconds(10));
    EXPECT_EQ(config.limits.max_opening_per_address, 100u);
    EXPECT_EQ(config.admin.listen, "127.0.0.1:9443");
    EXPECT_EQ(config.logging.format, LogFormat::text);
}

TEST_F(ConfigTest, ReadsSizesDurationsAndModes) {
    const auto config = load(valid("      mode: optional\n    tls_min_version: \"1.3\"\n",
                                   "limits:\n  upload_read_ahead: 512KiB\n  header_timeout: 500ms\n"
                                   "  handshake_timeout: 2s\n  max_opening_per_address: 0\n"
                                   "logging:\n  level: debug\n  format: json\n"));
    EXPECT_EQ(config.listeners[0].client_auth.mode, ClientAuthMode::optional);
    EXPECT_EQ(config.listeners[0].tls_min_version, "1.3");
    EXPECT_EQ(config.limits.upload_read_ahead, 512u * 1024);
    EXPECT_EQ(config.limits.header_timeout, std::chrono::milliseconds(500));
    EXPECT_EQ(config.limits.handshake_timeout, std::chrono::seconds(2));
    EXPECT_EQ(config.limits.max_opening_per_address, 0u);
    EXPECT_EQ(config.logging.format, LogFormat::json);
}

// The access log's own file: named from the root (a service's working directory is nobody's choice),
// shown by check-config when set.
TEST_F(ConfigTest, AccessLogIsAnAbsolutePath) {
    EXPECT_EQ(load(valid()).logging.access_log, "");
    const auto config = load(valid("", "logging:\n  access_log: /var/log/easgate/access.log\n"));
    EXPECT_EQ(config.logging.access_log, "/var/log/easgate/access.log");
    EXPECT_NE(to_yaml(config).find("access_log: /var/log/easgate/access.log"), std::string::npos);
    EXPECT_EQ(to_yaml(load(valid())).find("access_log"), std::string::npos);
    EXPECT_EQ(error_of(valid("", "logging:\n  access_log: access.log\n")),
              "logging.access_log: expected an absolute path, got \"access.log\" (line 15)");
}

TEST_F(ConfigTest, MissingCaFileNamesTheKeyTheFileTheErrorAndTheLine) {
    auto text = valid();
    text.replace(text.find(path("ca.pem")), path("ca.pem").size(), "/x.pem");
    EXPECT_EQ(
        error_of(text),
        "listeners[0].client_auth.trusted_ca_file: cannot read /x.pem: No such file or directory (line 7)");
}

TEST_F(ConfigTest, UnknownKeyIsRefusedWithItsPath) {
    EXPECT_EQ(error_of(valid("      mdoe: optional\n")),
              "listeners[0].client_auth.mdoe: unknown key (line 9)");
    EXPECT_EQ(error_of(valid("", "limtis:\n  upload_read_ahead: 1MiB\n")), "limtis: unknown key (line 14)");
}

// yaml-cpp keeps the first of a key written twice: a setting added at a section's end, where the
// section had it already, would silently not count.
TEST_F(ConfigTest, AKeyWrittenTwiceIsRefusedNamingBothLines) {
    EXPECT_EQ(
        error_of(valid("", "limits:\n  header_timeout: 5s\n  idle_timeout: 1m\n  header_timeout: 60s\n")),
        "limits.header_timeout: written twice (first on line 15): only the first would count; keep "
        "one (line 17)");
    EXPECT_EQ(error_of(valid("      mode: optional\n      mode: required\n")),
              "listeners[0].client_auth.mode: written twice (first on line 9): only the first would count; "
              "keep one (line 10)");
    EXPECT_EQ(error_of(valid("", "limits:\n  header_timeout: 5s\nlimits:\n  idle_timeout: 1m\n")),
              "limits: written twice (first on line 14): only the first would count; keep one (line 16)");
}

// A key that is a list or a map (YAML's "? [a, b] : 1") is refused as a configuration error: a
// SIGHUP reload catches only those, so anything else would end the daemon.
TEST_F(ConfigTest, AKeyThatIsNotAWordIsAConfigurationError) {
    EXPECT_EQ(error_of(valid("", "limits:\n  ? [header_timeout, idle_timeout]\n  : 5s\n")),
              "limits: a key must be a single word (line 15)");
}

TEST_F(ConfigTest, WrongTypesAndImpossibleValuesAreRefused) {
    EXPECT_EQ(
        error_of(valid("", "limits:\n  upload_read_ahead: 10MB\n")),
        "limits.upload_read_ahead: expected a size such as 512KiB, 10MiB or 1GiB, got \"10MB\" (line 15)");
    EXPECT_EQ(
        error_of(valid("", "limits:\n  header_timeout: 15\n")),
        "limits.header_timeout: expected a duration above zero such as 500ms, 15s, 5m or 1h, got \"15\" "
        "(line 15)");
    EXPECT_EQ(
        error_of(valid("      mode: sometimes\n")),
        "listeners[0].client_auth.mode: expected one of required | optional, got \"sometimes\" (line 9)");
    EXPECT_EQ(error_of(valid("      require_client_auth_eku: yes please\n")),
              "listeners[0].client_auth.require_client_auth_eku: expected true or false, got \"yes please\" "
              "(line 9)");
    auto bad_port = valid();
    bad_port.replace(bad_port.find("8443"), 4, "70000");
    EXPECT_EQ(error_of(bad_port), "listeners[0].port: must be at most 65535, got 70000 (line 3)");
}

// Port 0: the kernel picks a free port and the log names it, so parallel tests never race for one.
TEST_F(ConfigTest, ListenerPortZeroMeansAnyFreePort) {
    auto any_port = valid();
    any_port.replace(any_port.find("8443"), 4, "0");
    EXPECT_EQ(load(any_port).listeners.at(0).port, 0);
}

TEST_F(ConfigTest, AdminListenMustBeAnAddressAndPort) {
    EXPECT_EQ(load(valid("", "admin:\n  listen: \"[::1]:9100\"\n")).admin.listen, "[::1]:9100");
    EXPECT_EQ(error_of(valid("", "admin:\n  listen: localhost:9100\n")),
              "admin.listen: expected IP address:port (127.0.0.1:9443, [::1]:9443), got \"localhost:9100\" "
              "(line 15)");
    EXPECT_NE(error_of(valid("", "admin:\n  listen: 127.0.0.1:99999\n")), "");
    EXPECT_NE(error_of(valid("", "admin:\n  listen: 127.0.0.1\n")), "");
}

TEST_F(ConfigTest, UpstreamAuthenticationIsPerRequestUnlessSaidOtherwise) {
    EXPECT_EQ(load(valid()).upstreams[0].authenticate, UpstreamAuthentication::per_request);
    // valid() ends inside the upstream's map, so these lines are the upstream's keys.
    EXPECT_EQ(load(valid("", "    authenticate: per_connection\n")).upstreams[0].authenticate,
              UpstreamAuthentication::per_connection);
    EXPECT_EQ(error_of(valid("", "    authenticate: sometimes\n")),
              "upstreams[0].authenticate: expected one of per_request | per_connection, got \"sometimes\" "
              "(line 14)");
}

TEST_F(ConfigTest, UpstreamCredentialSettingsHaveSafeDefaultsAndAreChecked) {
    const auto defaults = load(valid()).upstreams[0];
    EXPECT_EQ(defaults.send_authorization, SendAuthorization::always);
    EXPECT_EQ(defaults.channel_binding, ChannelBinding::automatic);
    EXPECT_EQ(defaults.max_authorization_bytes, 64u << 10);
    EXPECT_TRUE(defaults.routes.empty());
    const auto set = load(valid("",
                                "    send_authorization: on_challenge\n    channel_binding: \"off\"\n"
                                "    max_authorization_bytes: 32KiB\n    routes: [/EWS/, /OAB/]\n"))
                         .upstreams[0];
    EXPECT_EQ(set.send_authorization, SendAuthorization::on_challenge);
    EXPECT_EQ(set.channel_binding, ChannelBinding::off);
    EXPECT_EQ(set.max_authorization_bytes, 32u << 10);
    EXPECT_EQ(set.routes, (std::vector<std::string>{"/EWS/", "/OAB/"}));
    EXPECT_EQ(error_of(valid("", "    max_authorization_bytes: 512\n")),
              "upstreams[0].max_authorization_bytes: must be between 1KiB and 1MiB (line 14)");
    EXPECT_EQ(error_of(valid("", "    routes: [EWS]\n")),
              "upstreams[0].routes[0]: expected a path prefix such as /EWS/, got \"EWS\" (line 14)");
}

TEST_F(ConfigTest, HealthChecksAreOffUnlessConfiguredAndDefaultToExchangesPage) {
    EXPECT_FALSE(load(valid()).upstreams[0].health_check);
    const auto check = load(valid("", "    health_check: {interval: 30s}\n")).upstreams[0].health_check;
    ASSERT_TRUE(check);
    EXPECT_EQ(check->path, "/Microsoft-Server-ActiveSync/healthcheck.htm");
    EXPECT_EQ(check->interval, milliseconds(30'000));
    EXPECT_EQ(check->timeout, milliseconds(5'000));
    EXPECT_EQ(error_of(valid("", "    health_check: {interval: 1s, timeout: 2s}\n")),
              "upstreams[0].health_check.timeout: must not be longer than interval (line 14)");
    // Left out, the default is what conflicts: the error says so (it said "required key is missing").
    EXPECT_EQ(error_of(valid("", "    health_check: {interval: 2s}\n")),
              "upstreams[0].health_check.timeout: must not be longer than interval (left out, it is 5s: "
              "set it) (line 14)");
}

TEST_F(ConfigTest, CrlRefreshIsOffUnlessConfiguredAndDefaultsToHourlyCdpFetches) {
    EXPECT_FALSE(load(valid()).listeners[0].client_auth.crl_refresh);
    const auto refresh = load(valid("      crl_refresh: {mode: cdp}\n")).listeners[0].client_auth.crl_refresh;
    ASSERT_TRUE(refresh);
    EXPECT_EQ(refresh->mode, CrlRefreshMode::cdp);
    EXPECT_EQ(refresh->interval, milliseconds(3'600'000));
    EXPECT_EQ(refresh->timeout, milliseconds(10'000));
    EXPECT_EQ(refresh->grace, milliseconds(0));
    const auto tuned =
        load(valid("      crl_refresh: {interval: 15m, grace: 12h}\n")).listeners[0].client_auth;
    EXPECT_EQ(tuned.crl_refresh->interval, milliseconds(900'000));
    EXPECT_EQ(tuned.crl_refresh->grace, milliseconds(43'200'000));
    EXPECT_TRUE(tuned.checks_revocation());
    EXPECT_EQ(error_of(valid("      crl_refresh: {interval: 10s, timeout: 20s}\n")),
              "listeners[0].client_auth.crl_refresh.timeout: must not be longer than interval (line 9)");
    EXPECT_EQ(error_of(valid("      crl_refresh: {interval: 5s}\n")),
              "listeners[0].client_auth.crl_refresh.timeout: must not be longer than interval (left out, it "
              "is 10s: set it) (line 9)");
    // No grace, the default, can be written too (as config/easgate.example.yaml and check-config show it).
    EXPECT_EQ(load(valid("      crl_refresh: {grace: 0s}\n")).listeners[0].client_auth.crl_refresh->grace,
              milliseconds(0));
    EXPECT_NE(error_of(valid("      crl_refresh: {mode: ldap}\n"))
                  .find("listeners[0].client_auth.crl_refresh.mode"),
              std::string::npos);
}

TEST_F(ConfigTest, DeviceTlsSessionCacheIsReadAndBounded) {
    const auto defaults = load(valid()).listeners[0];
    EXPECT_EQ(defaults.tls_session_cache_size, 20480u);
    EXPECT_EQ(defaults.tls_session_lifetime, std::chrono::hours(2));
    const auto tuned =
        load(valid("    tls_session_cache_size: 100000\n    tls_session_lifetime: 30m\n")).listeners[0];
    EXPECT_EQ(tuned.tls_session_cache_size, 100000u);
    EXPECT_EQ(tuned.tls_session_lifetime, std::chrono::minutes(30));
    EXPECT_EQ(load(valid("    tls_session_cache_size: 0\n")).listeners[0].tls_session_cache_size, 0u);
    EXPECT_EQ(error_of(valid("    tls_session_lifetime: 25h\n")),
              "listeners[0].tls_session_lifetime: must be between 1s and 24h (line 9)");
    EXPECT_EQ(error_of(valid("    tls_session_lifetime: 500ms\n")),
              "listeners[0].tls_session_lifetime: must be between 1s and 24h (line 9)");
    EXPECT_NE(error_of(valid("    tls_session_cache_size: -1\n")).find("listeners[0].tls_session_cache_size"),
              std::string::npos);
}

TEST_F(ConfigTest, ConnectionLimitsAndPublicNameAreRead) {
    const auto config = load(valid("    public_name: mail.example.com\n",
                                   "limits:\n  max_connections: 5000\n  min_body_rate: 1KiB\n"));
    EXPECT_EQ(config.listeners[0].public_name, "mail.example.com");
    EXPECT_EQ(config.limits.max_connections, 5000u);
    EXPECT_EQ(config.limits.min_body_rate, 1024u);
    EXPECT_EQ(load(valid()).limits.min_body_rate, 256u);
    EXPECT_EQ(error_of(valid("", "limits:\n  max_connections: 0\n")),
              "limits.max_connections: must be at least 1 (line 15)");
    EXPECT_NE(error_of(valid("    public_name: https://mail/\n")), "");
}

TEST_F(ConfigTest, ProxyProtocolIsOffUnlessConfiguredAndNeedsTrustedProxies) {
    EXPECT_FALSE(load(valid()).listeners[0].proxy_protocol);
    const auto config =
        load(valid("    proxy_protocol: true\n    trusted_proxies: [10.0.5.10/32, 2001:db8::/64]\n"));
    EXPECT_TRUE(config.listeners[0].proxy_protocol);
    EXPECT_EQ(config.listeners[0].trusted_proxies,
              (std::vector<std::string>{"10.0.5.10/32", "2001:db8::/64"}));
    EXPECT_EQ(
        error_of(valid("    proxy_protocol: true\n")),
        "listeners[0].proxy_protocol: true needs trusted_proxies: the load balancers' addresses (CIDR); a "
        "PROXY header from anyone else would let them pose as any device (line 9)");
    EXPECT_NE(error_of(valid("    proxy_protocol: true\n    trusted_proxies: []\n"))
                  .find("proxy_protocol: true needs"),
              std::string::npos);
    EXPECT_NE(error_of(valid("    proxy_protocol: true\n    trusted_proxies: [10.0.5.1/8]\n"))
                  .find("listeners[0].trusted_proxies[0]: expected an address or a network"),
              std::string::npos);
}

TEST_F(ConfigTest, ShutdownDelayIsZeroUnlessConfigured) {
    EXPECT_EQ(load(valid()).limits.shutdown_delay.count(), 0);
    EXPECT_EQ(load(valid("", "limits:\n  shutdown_delay: 0s\n")).limits.shutdown_delay.count(), 0);
    EXPECT_EQ(load(valid("", "limits:\n  shutdown_delay: 0\n")).limits.shutdown_delay.count(), 0);
    EXPECT_EQ(load(valid("", "limits:\n  shutdown_delay: 2s\n")).limits.shutdown_delay.count(), 2000);
    EXPECT_NE(
        error_of(valid("", "limits:\n  shutdown_delay: soon\n")).find("limits.shutdown_delay: expected"),
        std::string::npos);
}

TEST_F(ConfigTest, MissingRequiredKeysAreNamed) {
    auto text = valid();
    text.erase(text.find("    private_key:"), text.find("    client_auth:") - text.find("    private_key:"));
    EXPECT_EQ(error_of(text), "listeners[0].private_key: required key is missing (line 2)");
    EXPECT_EQ(error_of("listeners: []\nupstreams: []\n"), "listeners: list at least one listener (line 1)");
}

TEST_F(ConfigTest, UpstreamUrlsMustBeHttpOrHttpsHostAndPort) {
    auto text = valid();
    text.replace(text.find("https://mail.corp.example.com"), 29, "ftp://mail");
    EXPECT_EQ(
        error_of(text),
        "upstreams[0].servers[0]: expected https://host[:port] or http://host[:port], got \"ftp://mail\" "
        "(line 11)");
}

TEST_F(ConfigTest, ListenerMustNameAnExistingUpstream) {
    EXPECT_EQ(error_of(valid("    upstream: exchnage\n")),
              "listeners[0].upstream: no upstream is named \"exchnage\" (line 9)");
}

TEST_F(ConfigTest, YamlSyntaxErrorsGiveTheLineAndColumn) {
    const auto message = error_of("listeners:\n  - address: [oops\n");
    EXPECT_NE(message.find("YAML syntax error at line"), std::string::npos) << message;
}

// check-config shows every default of each section configured: what it shows must load again as
// the same configuration (it showed `grace: 0ms`, which the parser refused).
TEST_F(ConfigTest, EffectiveConfigurationRoundTrips) {
    const auto config = load(valid("      crl_refresh: {mode: cdp}\n",
                                   "    health_check: {interval: 30s}\n"
                                   "limits:\n  upload_read_ahead: 512KiB\n"
                                   "directory:\n  uris: [ldaps://dc1]\n  base_dn: DC=example,DC=test\n"
                                   "kerberos:\n  keytab: " +
                                       path("easgate.keytab") + "\n  principal: EASGATE$@EXAMPLE.TEST\n"));
    ASSERT_NE(to_yaml(config).find("grace: 0"), std::string::npos) << to_yaml(config);
    const auto reloaded = load(to_yaml(config));
    EXPECT_EQ(to_yaml(reloaded), to_yaml(config));
    EXPECT_EQ(reloaded.limits.upload_read_ahead, 512u * 1024);
}

}  // namespace
}  // namespace easgate::config
