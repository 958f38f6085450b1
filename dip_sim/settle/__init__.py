"""Settlement (结算清算): settlement point value, hospital amounts, prepayment, clearing."""
