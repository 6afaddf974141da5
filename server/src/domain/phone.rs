//! Phone numbers of verification methods: parsed and validated with libphonenumber's
//! metadata (the `phonenumber` crate), stored in E.164 (`+12015550142`), shown masked.

use super::error::Error;

/// The E.164 form of a number typed in international format (`+1 201 555 0142`,
/// `+44 7911 123456`); a clear violation of `field` otherwise.
pub(crate) fn normalise(field: &str, input: &str) -> Result<String, Error> {
    let input = input.trim();
    if !input.starts_with('+') {
        return Err(Error::invalid(
            field,
            "give the number in international format, starting with + and the country code",
        ));
    }
    let number =
        phonenumber::parse(None, input).map_err(|_| Error::invalid(field, "not a phone number"))?;
    if !phonenumber::is_valid(&number) {
        return Err(Error::invalid(
            field,
            "not a valid number for its country: check the digits",
        ));
    }
    // Codes go by SMS: only numbers that can be mobiles (never premium-rate, toll-free,
    // shared-cost or pager numbers, which would cost money or reach nobody).
    match number.number_type(&phonenumber::metadata::DATABASE) {
        phonenumber::Type::Mobile | phonenumber::Type::FixedLineOrMobile => {}
        _ => {
            return Err(Error::invalid(
                field,
                "not a mobile number: give a number that can receive text messages",
            ));
        }
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// `+12015550142` → `+1 •••• ••42`: the country code and the last two digits.
pub(crate) fn mask(e164: &str) -> String {
    match phonenumber::parse(None, e164) {
        Ok(number) => {
            let national = number.national().value().to_string();
            let last: String = national
                .chars()
                .skip(national.len().saturating_sub(2))
                .collect();
            format!("+{} •••• ••{last}", number.code().value())
        }
        Err(_) => "•••".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_numbers_are_normalised_to_e164() {
        assert_eq!(
            normalise("n", "+44 7911 123456").ok().as_deref(),
            Some("+447911123456")
        );
        assert_eq!(
            normalise("n", " +1 (201) 555-0123 ").ok().as_deref(),
            Some("+12015550123")
        );
    }

    #[test]
    fn other_input_is_refused_with_a_reason() {
        // The last two: a UK landline and a UK premium-rate number.
        for bad in [
            "07911 123456",
            "+44 12",
            "+999 1234567",
            "phone",
            "",
            "+44 20 7946 0958",
            "+44 909 879 0000",
        ] {
            match normalise("address", bad) {
                Err(Error::InvalidArgument { violations, .. }) => {
                    assert_eq!(violations[0].field, "address", "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn numbers_are_masked() {
        assert_eq!(mask("+447911123456"), "+44 •••• ••56");
        assert_eq!(mask("+12015550142"), "+1 •••• ••42");
        assert_eq!(mask("+12015550123"), "+1 •••• ••23");
    }
}
