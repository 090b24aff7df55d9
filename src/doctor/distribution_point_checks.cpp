// crl_refresh's CRL Distribution Points, fetched from this host as `easgate run` will fetch them: a
// gateway in a DMZ that can't reach the CA's web server is the usual reason CRLs go stale.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <map>
#include <vector>

#include "certificate_checks.hpp"
#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/identity/crl_fetch.hpp"
#include "easgate/identity/crl_refresher.hpp"
#include "easgate/identity/trust_store.hpp"
#include "shared_directory.hpp"

namespace easgate::doctor {
namespace {

namespace asio = boost::asio;

// Every URL at once, so that unreachable ones cost one timeout in all.
std::vector<identity::FetchedCrl> fetch_all(const std::vector<std::string>& urls,
                                            const config::CrlRefresh& settings,
                                            const identity::DirectoryCrlReader& directory) {
    asio::io_context io;
    std::vector<std::future<identity::FetchedCrl>> pending;
    for (const auto& url : urls)
        pending.push_back(
            asio::co_spawn(io, identity::fetch_crl_from(url, settings, directory), asio::use_future));
    io.run();
    std::vector<identity::FetchedCrl> fetched;
    for (auto& one : pending) fetched.push_back(one.get());
    return fetched;
}

std::string remedy_for(const std::string& url, const config::CrlRefresh& settings) {
    if (identity::directory_crl_url(url))
        return "as the reason says: publish the CRL to Active Directory at that location (AD CS: "
               "\"Publish CRLs to this location\" on the CDP; for an offline root, "
               "`certutil -dspublish -f <CRL file>`) and let it replicate, list that CA in "
               "trusted_ca_file, or see the directory checks when no DC answered";
    return "let this host reach the URL over http (easgate uses no proxy; within crl_refresh.timeout " +
           config::format_duration(settings.timeout) +
           "), or publish the CA's CRL at an http:// location it reaches and add that to the CA's "
           "CDP (AD CS: the CA's Extensions tab); until then keep crl_files current";
}

// What one location gave: a usable CRL (error empty), why not, or nothing asked (skipped).
struct LocationOutcome {
    bool skipped = false;
    std::string error;
    identity::OfferedCrls offered;

    bool served() const { return !skipped && error.empty(); }
};

// Every location of the points once, in order, fetched at once (ldap:/// ones through the shared
// directory client, made only when a location is in the directory), its CRLs offered to store.
std::vector<std::pair<std::string, LocationOutcome>> fetch_locations(
    const std::vector<identity::DistributionPoint>& points, const config::CrlRefresh& settings,
    SharedDirectory& shared, identity::RevocationStore& store) {
    std::vector<std::string> urls;
    for (const auto& point : points)
        for (const auto& url : point)
            if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
    const auto in_directory = [](const std::string& url) { return identity::directory_crl_url(url); };
    const auto directory = std::any_of(urls.begin(), urls.end(), in_directory)
                               ? shared.crl_reader()
                               : identity::DirectoryCrlReader{};
    const auto fetched = fetch_all(urls, settings, directory);
    std::vector<std::pair<std::string, LocationOutcome>> outcomes;
    for (std::size_t i = 0; i < urls.size(); ++i) {
        auto& outcome = outcomes.emplace_back(urls[i], LocationOutcome{}).second;
        if (!directory && in_directory(urls[i])) {
            outcome.skipped = true;
        } else {
            if (fetched[i].error.empty()) outcome.offered = identity::offer_crls(store, fetched[i].body);
            outcome.error = fetched[i].error.empty() ? outcome.offered.error : fetched[i].error;
        }
    }
    return outcomes;
}

}  // namespace

void check_distribution_points(const config::ClientAuthConfig& client_auth, const std::string& prefix,
                               identity::RevocationStore& store, const std::optional<std::string>& device,
                               SharedDirectory& shared, Report& report) {
    if (!client_auth.refreshes_crls()) return;
    const auto& settings = *client_auth.crl_refresh;
    const std::string check = prefix + " CRL refresh";
    store.learn_from_anchors();
    if (device) {
        for (const auto& certificate : identity::read_pem_certificates(*device))
            store.learn_distribution_points(certificate.get());
    }
    const auto points = store.distribution_points();
    if (!device) {
        report.pass(
            "tls", check,
            "the CRL Distribution Points of device certificates (their issuing CA's CRL) are fetched as "
            "devices present them; give --certificate with a device's certificate to fetch that one "
            "here too");
    }
    const auto outcomes = fetch_locations(points, settings, shared, store);
    if (outcomes.empty()) return;
    const auto outcome_of = [&](const std::string& url) -> const LocationOutcome& {
        return std::find_if(outcomes.begin(), outcomes.end(),
                            [&](const auto& each) { return each.first == url; })
            ->second;
    };
    // Locations of one point are alternatives: easgate stops at the first that serves the CRL.
    const auto served_instead = [&](const std::string& url) -> std::string {
        for (const auto& point : points) {
            if (std::find(point.begin(), point.end(), url) == point.end()) continue;
            for (const auto& other : point)
                if (outcome_of(other).served()) return other;
        }
        return {};
    };
    for (const auto& [url, outcome] : outcomes) {
        const std::string what = check + " from " + url;
        if (outcome.skipped) {
            report.skip("tls", what, "read from the directory, and there is no usable directory section");
            continue;
        }
        if (!outcome.served()) {
            if (const auto other = served_instead(url); !other.empty()) {
                report.skip("tls", what, outcome.error + "; easgate takes the same CRL from " + other);
                continue;
            }
            report.warn(
                "tls", what,
                outcome.error +
                    ": easgate keeps the CRLs it holds until their nextUpdate (plus crl_refresh.grace " +
                    config::format_duration(settings.grace) + "), then refuses the devices below that CA",
                remedy_for(url, settings));
            continue;
        }
        auto crls = outcome.offered.installed;
        crls.insert(crls.end(), outcome.offered.held.begin(), outcome.offered.held.end());
        report.pass("tls", what,
                    common::join(crls) + (outcome.offered.installed.empty()
                                              ? ""
                                              : "; newer than crl_files, in use once easgate runs"));
    }
    for (const auto& stale : store.expired_crls()) {
        report.warn(
            "tls", check, stale + " is past its nextUpdate and its CDP gave no newer one",
            "publish a new CRL on that CA (`certutil -CRL`; for an offline root, run it there and copy "
            "the CRL to the CDP's web server)");
    }
}

}  // namespace easgate::doctor
