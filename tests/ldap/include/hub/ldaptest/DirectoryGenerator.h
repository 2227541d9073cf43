#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace hub::ldaptest {

/// The shape of a generated campus directory.
struct DirectoryShape {
    std::string suffix = "dc=campus,dc=example";
    std::size_t persons = 1000;
    std::size_t schools = 4;            ///< ou=School k under ou=units
    std::size_t departmentsPerSchool = 3;  ///< ou=Dept k.j under each school (nested units)
    bool eduPerson = true;              ///< Add the eduPerson class and eduPersonAffiliation.
};

/// One generated person; everything is a pure function of the index, so tests can
/// compute what the directory holds without reading it back.
struct GeneratedPerson {
    std::string uid;
    std::string dn;
    std::vector<std::string> cn;       ///< Chinese name then its pinyin, or an English name.
    std::string displayName;
    std::string sn;
    std::string givenName;
    std::string department;             ///< ou value: the department's (Chinese) name.
    std::string departmentNumber;
    std::vector<std::string> mails;     ///< 1 or 2
    std::vector<std::string> phones;    ///< 0 to 2
    std::vector<std::string> affiliations;  ///< eduPersonAffiliation values
    std::string employeeType;
};

/// Writes deterministic test directories as LDIF: the suffix entry, ou=units with
/// nested school and department units, N persons (inetOrgPerson + eduPerson; Chinese
/// and English names, multi-valued cn, mail and telephoneNumber), and ou=groups with
/// role groups (groupOfNames). Non-ASCII values are base64 encoded as LDIF requires.
class DirectoryGenerator {
public:
    explicit DirectoryGenerator(DirectoryShape shape);

    GeneratedPerson person(std::size_t index) const;
    std::string departmentDn(std::size_t school, std::size_t department) const;
    /// Role groups and the rule for their members: cn=hall-admins (index % 1000 == 0),
    /// cn=approvers (index % 97 == 0).
    static bool isHallAdmin(std::size_t index) { return index % 1000 == 0; }
    static bool isApprover(std::size_t index) { return index % 97 == 0; }
    std::string groupDn(const std::string& cn) const;

    /// The whole directory (for slapadd or ldapadd).
    void writeLdif(std::ostream& out) const;
    void writeLdifFile(const std::string& path) const;
    /// One person as an LDIF add record (ldapmodify change format).
    std::string personAddRecord(std::size_t index) const;
    /// Number of entries writeLdif produces.
    std::size_t entryCount() const;
    const DirectoryShape& shape() const { return shape_; }

private:
    void writePerson(std::ostream& out, const GeneratedPerson& p, bool changeRecord) const;
    DirectoryShape shape_;
};

/// An LDIF "attr: value" line, base64 ("attr:: ...") when the value is not a SAFE-STRING.
std::string ldifLine(const std::string& attribute, const std::string& value);

}  // namespace hub::ldaptest
