#include "lab_administration.hpp"

#include <chrono>
#include <filesystem>

#include "lab_environment.hpp"
#include "test_pki.hpp"

namespace easgate::testing {

CommandResult as_administrator(std::vector<std::string> argv, const std::string& input) {
    const auto& lab = LabEnvironment::get();
    argv.insert(argv.begin(), {"env", "LDAPTLS_CACERT=" + lab.at("LAB_LDAPS_CA_FILE")});
    argv.insert(argv.end(),
                {"-x", "-H", lab.at("LAB_LDAPS_URL"), "-D",
                 "CN=Administrator,CN=Users," + lab.at("LAB_BASE_DN"), "-w", lab.at("LAB_ADMIN_PASSWORD")});
    if (input.empty()) return run_command(argv);
    const auto dir = make_temp_dir("ldif");
    write_file(dir / "change.ldif", input);
    argv.insert(argv.end(), {"-f", (dir / "change.ldif").string()});
    auto result = run_command(argv);
    std::filesystem::remove_all(dir);
    return result;
}

CommandResult modify_domain_partition(const std::string& ldif) {
    const auto& lab = LabEnvironment::get();
    std::string partition = lab.at("LAB_BASE_DN");
    for (auto& c : partition) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto dir = make_temp_dir("ldif");
    write_file(dir / "change.ldif", ldif);
    auto result =
        run_command({"ldbmodify", "-H", lab.at("LAB_DIR") + "/samba/private/sam.ldb.d/" + partition + ".ldb",
                     (dir / "change.ldif").string()});
    std::filesystem::remove_all(dir);
    return result;
}

CommandResult replicate_dcs_now() {
    return run_command({"bash", std::string(EASGATE_SOURCE_DIR) + "/tests/lab/dc.sh", "sync"},
                       std::chrono::seconds(60));
}

}  // namespace easgate::testing
