// CrlCache: what crl_refresh keeps across restarts, and what a refresher takes back from it.
#include "easgate/identity/crl_cache.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>

#include "easgate/identity/crl_refresher.hpp"
#include "test_pki.hpp"

namespace easgate::identity {
namespace {

using testing::TestCa;

constexpr std::uint64_t max_crl_bytes = 1024;

class CrlCacheTest : public ::testing::Test {
protected:
    CrlCacheTest()
        : dir(std::filesystem::temp_directory_path() / ("crl-cache-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(dir);
    }
    ~CrlCacheTest() override { std::filesystem::remove_all(dir); }

    // What a listener trusting a two-tier PKI holds: both CAs, no CRL yet.
    static std::shared_ptr<RevocationStore> store_trusting(const TestCa& root, const TestCa& issuing) {
        std::vector<X509Ptr> anchors;
        anchors.push_back(testing::parse_certificate_pem(issuing.cert_pem()));
        anchors.push_back(testing::parse_certificate_pem(root.cert_pem()));
        return std::make_shared<RevocationStore>(std::move(anchors), std::vector<X509CrlPtr>{}, true,
                                                 std::chrono::hours(1));
    }

    // A refresher of store with dir as its cache_dir, started: what start() does at once, and no fetch
    // (context never runs).
    std::shared_ptr<CrlRefresher> start_refresher(const std::shared_ptr<RevocationStore>& store) {
        return start_refresher(store, dir);
    }
    std::shared_ptr<CrlRefresher> start_refresher(const std::shared_ptr<RevocationStore>& store,
                                                  const std::filesystem::path& cache_dir) {
        config::CrlRefresh settings;
        settings.cache_dir = cache_dir.string();
        auto refresher = std::make_shared<CrlRefresher>(context.get_executor(), store, settings,
                                                        std::make_shared<CrlRefreshCounters>());
        refresher->start();
        return refresher;
    }

    std::filesystem::path dir;
    boost::asio::io_context context;
};

TEST_F(CrlCacheTest, KeepsTheLastBodyOfEachUrlInADirectoryOnlyItsOwnerReads) {
    const CrlCache cache((dir / "crls").string(), max_crl_bytes);
    struct stat made {};
    ASSERT_EQ(::stat((dir / "crls").c_str(), &made), 0);
    EXPECT_EQ(made.st_mode & 0777, 0700u);
    cache.save("http://pki.corp.example/issuing.crl", "first");
    cache.save("http://pki.corp.example/root.crl", std::string("\x30\x82\x00\x00", 4));
    cache.save("http://pki.corp.example/issuing.crl", "second");

    auto entries = CrlCache((dir / "crls").string(), max_crl_bytes).load();
    std::ranges::sort(entries, {}, &CrlCache::Entry::url);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].url, "http://pki.corp.example/issuing.crl");
    EXPECT_EQ(entries[0].body, "second");
    EXPECT_EQ(entries[1].url, "http://pki.corp.example/root.crl");
    EXPECT_EQ(entries[1].body, std::string("\x30\x82\x00\x00", 4));
}

TEST_F(CrlCacheTest, AnEntryWithoutItsCrlIsLeftOutAndNothingConfiguredKeepsNothing) {
    const CrlCache cache(dir.string(), max_crl_bytes);
    cache.save("http://pki.corp.example/issuing.crl", "crl");
    for (const auto& file : std::filesystem::directory_iterator(dir))
        if (file.path().extension() == ".crl") std::filesystem::remove(file.path());
    EXPECT_TRUE(cache.load().empty());

    const CrlCache none("", max_crl_bytes);
    none.save("http://pki.corp.example/issuing.crl", "crl");
    EXPECT_TRUE(none.load().empty());
}

// Only easgate writes there, each CRL no larger than a fetch may be; a file grown past that (a
// disk's error, someone else's copy) is not read into memory at start.
TEST_F(CrlCacheTest, AKeptCrlLargerThanAFetchMayBeIsLeftOut) {
    const CrlCache cache(dir.string(), max_crl_bytes);
    cache.save("http://pki.corp.example/issuing.crl", std::string(max_crl_bytes, 'c'));
    cache.save("http://pki.corp.example/huge.crl", std::string(max_crl_bytes + 1, 'c'));
    const auto entries = cache.load();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].url, "http://pki.corp.example/issuing.crl");
    EXPECT_EQ(entries[0].body.size(), max_crl_bytes);
}

TEST_F(CrlCacheTest, ADirectoryThatCantBeMadeKeepsNothingAndFailsNothing) {
    testing::write_file(dir / "a-file", "not a directory");
    const CrlCache cache((dir / "a-file" / "crls").string(), max_crl_bytes);
    cache.save("http://pki.corp.example/issuing.crl", "crl");
    EXPECT_TRUE(cache.load().empty());
}

// A refresher offers its store what the cache kept, before its first fetch: a listed CA's CRL is in
// use and its URL fetched from then on; anything else (a CA no longer listed, a file put there by
// someone else) is left out, and names no URL to fetch.
TEST_F(CrlCacheTest, ARefresherTakesBackOnlyCrlsItsCasSigned) {
    auto root = TestCa::create_root("Corp Root CA");
    const auto issuing = root.create_intermediate("Corp Issuing CA");
    const auto store = store_trusting(root, issuing);
    const CrlCache cache(dir.string(), max_crl_bytes);
    cache.save("http://127.0.0.1:9/issuing.crl", issuing.crl_pem());
    cache.save("http://127.0.0.1:9/rogue.crl", TestCa::create_root("Rogue CA").crl_pem());
    cache.save("http://127.0.0.1:9/forged.crl", TestCa::create_root("Corp Issuing CA").crl_pem());

    const auto refresher = start_refresher(store);

    const auto held = store->crl_next_updates();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_NE(held[0].name.find("Corp Issuing CA"), std::string::npos);
    EXPECT_EQ(store->distribution_points(),
              std::vector<DistributionPoint>{{"http://127.0.0.1:9/issuing.crl"}});
    refresher->stop();
}

// crl_files holds the issuing CA's base CRL N; the cache, base N+1 and its delta, the delta read
// first. The delta waits for its base and is taken once the base is in: with the distribution
// points down after a restart, a delta left out had every device of that CA refused.
TEST_F(CrlCacheTest, ACachedDeltaReadBeforeItsBaseIsTakenOnceTheBaseIsIn) {
    auto root = TestCa::create_root("Corp Root CA");
    const auto issuing = root.create_intermediate("Corp Issuing CA");
    std::vector<X509Ptr> anchors;
    anchors.push_back(testing::parse_certificate_pem(issuing.cert_pem()));
    anchors.push_back(testing::parse_certificate_pem(root.cert_pem()));
    auto seed = parse_crls(issuing.crl_pem());
    const auto store =
        std::make_shared<RevocationStore>(std::move(anchors), std::move(seed), true, std::chrono::hours(1));
    const std::string newer_base = issuing.crl_pem();
    const std::string delta = issuing.delta_crl_pem();
    // A delta URL whose cache file comes first (files are named by a hash of the URL).
    std::string delta_url;
    for (int n = 0; delta_url.empty(); ++n) {
        ASSERT_LT(n, 64);
        const CrlCache probe((dir / ("probe-" + std::to_string(n))).string(), 64 * 1024);
        const std::string url = "http://127.0.0.1:9/issuing-delta-" + std::to_string(n) + ".crl";
        probe.save("http://127.0.0.1:9/issuing.crl", newer_base);
        probe.save(url, delta);
        if (probe.load().front().url == url) delta_url = url;
    }
    const CrlCache cache((dir / "kept").string(), 64 * 1024);
    cache.save("http://127.0.0.1:9/issuing.crl", newer_base);
    cache.save(delta_url, delta);

    const auto refresher = start_refresher(store, dir / "kept");
    const auto held = store->crl_next_updates();
    ASSERT_EQ(held.size(), 2u) << "the newer base and its delta";
    EXPECT_NE(held[0].delta, held[1].delta);
    EXPECT_EQ(store->distribution_points().size(), 2u) << "both fetched from now on";
    refresher->stop();
}

// A reload that keeps a listener's TLS settings keeps its revocation store, which holds the cached
// CRLs already: the reload's refresher does not load the cache again (on the accept thread, parsing
// and verifying each CRL, some of them many MiB).
TEST_F(CrlCacheTest, ARefresherOfAReloadThatKeptTheStoreLeavesTheCacheAlone) {
    auto root = TestCa::create_root("Corp Root CA");
    const auto issuing = root.create_intermediate("Corp Issuing CA");
    const auto store = store_trusting(root, issuing);
    const CrlCache cache(dir.string(), max_crl_bytes);
    cache.save("http://127.0.0.1:9/issuing.crl", issuing.crl_pem());
    start_refresher(store)->stop();
    ASSERT_EQ(store->crl_next_updates().size(), 1u);

    cache.save("http://127.0.0.1:9/root.crl", root.crl_pem());  // a file the store never held
    start_refresher(store)->stop();
    EXPECT_EQ(store->crl_next_updates().size(), 1u) << "the cache was loaded again";
}

}  // namespace
}  // namespace easgate::identity
