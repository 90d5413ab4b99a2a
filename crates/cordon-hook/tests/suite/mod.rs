mod judging;
mod parsing;
