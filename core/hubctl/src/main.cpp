// hubctl: the hub's admin command line. Each command group lives in its own
// file in this folder and registers itself (Cli.h, Registration); this file
// holds the global options, the dispatch and the exit codes.
#include "Cli.h"

#include "hub/common/Version.h"

#include <Poco/Exception.h>
#include <Poco/File.h>

#include <iostream>

int main(int argc, char** argv) {
    hubctl::GlobalOptions options;
    CLI::App app{"CampusHub admin command line: the hub's admin API for operators and scripts.", "hubctl"};
    app.set_version_flag("--version", std::string("hubctl (CampusHub) ") + hub::projectVersion);
    app.footer(
        "Run `hubctl COMMAND --help` for the usage of a command. Exit codes: 0 done, 1 the hub answered with an\n"
        "error (or a check found errors), 2 usage, 3 cannot reach the hub or the token was refused.");
    app.require_subcommand(1);
    app.fallthrough();  // the global options are accepted after the command too
    app.add_option("--url", options.url, "the hub's base URL (default: HUBCTL_URL, else from the config)")
        ->envname("HUBCTL_URL");
    app.add_option("--config", options.config,
                   "the hub's configuration (default: HUBCTL_CONFIG, else /etc/campushub/hub.xml)")
        ->envname("HUBCTL_CONFIG");
    app.add_option("--token-file", options.tokenFile, "a file holding the bearer token (else HUBCTL_TOKEN)")
        ->envname("HUBCTL_TOKEN_FILE");
    app.add_flag("--json", options.json, "machine-readable JSON on stdout instead of tables");
    app.add_flag("-q,--quiet", options.quiet, "no progress indicator");
    app.add_option("--timeout", options.timeoutSeconds, "seconds to wait for each answer (default: per command)")
        ->check(CLI::Range(1, 86400));

    hubctl::Commands commands(app, options);
    for (auto define : hubctl::Registration::all()) define(commands);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version are "errors" with exit code 0, printed on stdout.
        int code = app.exit(e);
        return code == 0 ? hubctl::exitOk : hubctl::exitUsage;
    }
    try {
        // The package's config is root's and campushub's: an operator without
        // sudo falls back to the default URL rather than failing to read it.
        if (Poco::File installed("/etc/campushub/hub.xml");
            options.config.empty() && installed.exists() && installed.canRead())
            options.config = installed.path();
        auto action = commands.selected();
        if (!action) {
            std::cerr << app.help();
            return hubctl::exitUsage;
        }
        return action();
    } catch (const hubctl::Failure& f) {
        std::cerr << "hubctl: " << f.what() << "\n";
        return f.code();
    } catch (const Poco::Exception& e) {
        std::cerr << "hubctl: " << e.displayText() << "\n";
        return hubctl::exitFailure;
    } catch (const std::exception& e) {
        std::cerr << "hubctl: " << e.what() << "\n";
        return hubctl::exitFailure;
    }
}
