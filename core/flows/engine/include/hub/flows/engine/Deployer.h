#pragma once

// Reading a .bpmn file into a Definition the engine runs, with every check
// made before anything runs (docs/flows/bpmn.md, "Deploying"): the XML
// hardened as the catalogue's is, the elements the engine supports, the
// Camunda 8 (zeebe) extensions, FEEL compiled, the graph (reachability,
// gateways, static deadlocks), plugin operations and candidate groups.

#include "hub/flows/engine/Model.h"

#include <cstddef>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::flows::engine {

/// One reason a file is refused, pointing at the element.
struct Problem {
    std::string elementId;    ///< Empty for the file as a whole.
    std::string elementName;
    int line = 0;             ///< 1-based; 0 when unknown.
    std::string message;

    /// "file:line: element 'id' (name): message".
    std::string toString(const std::string& file) const;
};

/// Thrown by deployFlow: every problem found, at once.
class DeployError : public std::runtime_error {
public:
    DeployError(const std::string& file, std::vector<Problem> problems);
    const std::vector<Problem>& problems() const noexcept { return problems_; }

private:
    std::vector<Problem> problems_;
};

/// What the plugin host knows of a service task's `<plugin>.<operation>`.
enum class OperationCheck {
    Known,             ///< The plugin is loaded and declares the operation.
    UnknownOperation,  ///< The plugin is loaded and does not declare it: refused.
    PluginNotLoaded,   ///< No such plugin loaded now: a warning only.
};

struct DeployOptions {
    std::size_t maxBytes = 4 * 1024 * 1024;  ///< Larger files are refused unread.
    std::size_t maxXmlElements = 20000;      ///< All XML elements, the diagram's included.
    std::size_t maxFlowNodes = 2000;         ///< Flow nodes and sequence flows of the process.

    /// Judges each service task's plugin operation; unset = every one Known.
    std::function<OperationCheck(const std::string& plugin, const std::string& operation)> operations;

    /// Candidate groups handled by the external approval engine, accepted as
    /// written (besides `dept:<dept>:<role>` and `hub:admin`).
    std::set<std::string> externalGroups;
};

/// The elements the engine runs, for refusal messages.
extern const char* const kSupportedElements;

/// Parses and validates one flow file. Throws DeployError listing every
/// problem; never runs or stores anything.
DefinitionPtr deployFlow(std::string xml, const std::string& file, const DeployOptions& options = {});

}  // namespace hub::flows::engine
